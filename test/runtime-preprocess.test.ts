import { describe, expect, it } from 'vitest';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { headerSize, preprocess } from '../src/runtime/preprocess.ts';
import { PinholeError } from '../src/errors.ts';
import type { InputSpec } from '../src/manifest.ts';

const spec = (width: number, height: number, channels = 3): InputSpec => ({ width, height, channels, layout: 'NCHW' });

/** An RGB PNG from a pixel function, losslessly encoded. */
function png(w: number, h: number, px: (x: number, y: number) => [number, number, number]): Promise<Buffer> {
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(px(x, y), (y * w + x) * 3);
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A valid PNG header declaring a huge image, with a few bytes of pixel data: an image bomb. */
function pngBomb(w: number, h: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1024))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PinholeError);
    return (e as PinholeError).code;
  }
  return 'no error';
}

/** A JPEG whose frame header (SOF0) declares w x h: the scan data stays that of a small picture. */
async function jpegBomb(w: number, h: number): Promise<Buffer> {
  const jpg = Buffer.from(await sharp(Buffer.alloc(16 * 16 * 3, 90), { raw: { width: 16, height: 16, channels: 3 } }).jpeg().toBuffer());
  const sof = jpg.indexOf(Buffer.from([0xff, 0xc0]));
  jpg.writeUInt16BE(h, sof + 5);
  jpg.writeUInt16BE(w, sof + 7);
  return jpg;
}

const at = (t: Float32Array, W: number, H: number, c: number, x: number, y: number) => t[c * W * H + y * W + x];

describe('preprocess: letterbox (darknet semantics)', () => {
  it('pastes an image already at the scaled size pixel for pixel, centred on an exact 0.5 canvas', async () => {
    // 16x5 into 16x16: ratio 16/16 < 16/5, so new size 16 x (5*16/16)=5, dy = trunc((16-5)/2) = 5
    const pix = (x: number, y: number): [number, number, number] => [(x * 16 + y) % 256, (x * 7 + y * 31) % 256, 255 - x * 10];
    const r = await preprocess(await png(16, 5, pix), spec(16, 16), 'letterbox');
    expect(r.width).toBe(16);
    expect(r.height).toBe(5);
    expect(r.geometry).toMatchObject({ newW: 16, newH: 5, dx: 0, dy: 5 });
    expect(r.data.length).toBe(3 * 16 * 16);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 16; y++) {
        for (let x = 0; x < 16; x++) {
          const v = at(r.data, 16, 16, c, x, y);
          if (y >= 5 && y < 10) expect(v).toBe(Math.fround(pix(x, y - 5)[c] / 255));
          else expect(v).toBe(0.5);
        }
      }
    }
  });

  it('every pixel lands in its plane, for widths read four pixels at a time and the others, with mean/std', async () => {
    const pix = (x: number, y: number): [number, number, number] => [(x * 53 + y * 7) % 256, (x * 11 + y * 101) % 256, (x * y * 29 + 3) % 256];
    const layout = { mode: 'letterbox' as const, mean: [10, 20, 30], std: [2, 4, 8] };
    for (const w of [12, 13, 14, 15]) {
      // w x 20 into 20x20: the picture at its own size, centred left to right
      const r = await preprocess(await png(w, 20, pix), spec(20, 20), layout);
      const dx = Math.trunc((20 - w) / 2);
      expect(r.geometry).toMatchObject({ newW: w, newH: 20, dx, dy: 0 });
      for (let c = 0; c < 3; c++) {
        const canvas = Math.fround(Math.fround(127.5 - layout.mean[c]) / layout.std[c]);
        for (let y = 0; y < 20; y++) {
          for (let x = 0; x < 20; x++) {
            const inside = x >= dx && x < dx + w;
            const want = inside ? Math.fround(Math.fround(pix(x - dx, y)[c] - layout.mean[c]) / layout.std[c]) : canvas;
            expect(at(r.data, 20, 20, c, x, y)).toBe(want);
          }
        }
      }
    }
  });

  it('scales with integer truncation and an integer centre offset; the canvas stays 0.5', async () => {
    // 30x10 into 16x16: new 16 x trunc(10*16/30)=5, dy = trunc(11/2) = 5; a flat colour survives any kernel
    const r = await preprocess(await png(30, 10, () => [200, 100, 50]), spec(16, 16), 'letterbox');
    expect(r.geometry).toMatchObject({ newW: 16, newH: 5, dx: 0, dy: 5 });
    const want = [200, 100, 50].map((v) => Math.fround(v / 255));
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 16; y++) {
        for (let x = 0; x < 16; x++) {
          const v = at(r.data, 16, 16, c, x, y);
          if (y >= 5 && y < 10) expect(v).toBeCloseTo(want[c], 2);
          else expect(v).toBe(0.5);
        }
      }
    }
  });

  it('tall images are letterboxed left/right, and left stays left', async () => {
    // 10x40 into 32x32: 32/10 >= 32/40 -> new h 32, w trunc(10*32/40)=8, dx = 12
    const r = await preprocess(await png(10, 40, (x) => (x < 5 ? [255, 0, 0] : [0, 0, 255])), spec(32, 32), 'letterbox');
    expect(r.geometry).toMatchObject({ newW: 8, newH: 32, dx: 12, dy: 0 });
    for (let y = 0; y < 32; y++) {
      expect(at(r.data, 32, 32, 0, 11, y)).toBe(0.5);
      expect(at(r.data, 32, 32, 0, 20, y)).toBe(0.5);
      expect(at(r.data, 32, 32, 0, 12, y)).toBeGreaterThan(0.9); // red on the left
      expect(at(r.data, 32, 32, 2, 12, y)).toBeLessThan(0.1);
      expect(at(r.data, 32, 32, 2, 19, y)).toBeGreaterThan(0.9); // blue on the right
      expect(at(r.data, 32, 32, 0, 19, y)).toBeLessThan(0.1);
    }
  });

  it('plain resize stretches over the whole input', async () => {
    const r = await preprocess(await png(30, 10, () => [10, 20, 30]), spec(16, 16), 'resize');
    expect(r.geometry).toMatchObject({ newW: 16, newH: 16, dx: 0, dy: 0 });
    for (let i = 0; i < 256; i++) expect(r.data[i]).toBeCloseTo(10 / 255, 2);
    for (let i = 512; i < 768; i++) expect(r.data[i]).toBeCloseTo(30 / 255, 2);
  });

  it('decodes exactly the formats proto/pinhole.proto and the README name: JPEG, PNG, WebP, GIF (first frame), TIFF, AVIF', async () => {
    const flat = (rgb: [number, number, number]) => sharp({ create: { width: 16, height: 12, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
    const red: [number, number, number] = [200, 40, 40];
    const encoded: Record<string, Buffer> = {
      jpeg: await flat(red).jpeg({ quality: 95 }).toBuffer(),
      png: await flat(red).png().toBuffer(),
      webp: await flat(red).webp({ quality: 95 }).toBuffer(),
      tiff: await flat(red).tiff().toBuffer(),
      avif: await flat(red).avif({ quality: 90 }).toBuffer(),
      // two frames (red, then blue) stacked as pages: the first is used
      gif: await sharp(Buffer.concat([
        (await flat(red).raw().toBuffer()), (await flat([40, 40, 200]).raw().toBuffer()),
      ]), { raw: { width: 16, height: 24, channels: 3, pageHeight: 12 } }).gif().toBuffer(),
    };
    for (const [format, bytes] of Object.entries(encoded)) {
      const r = await preprocess(bytes, spec(16, 12), 'resize');
      expect([r.width, r.height], format).toEqual([16, 12]);
      const mean = (c: number) => r.data.subarray(c * 192, (c + 1) * 192).reduce((a, b) => a + b, 0) / 192 * 255;
      expect(Math.abs(mean(0) - 200), format).toBeLessThan(12);
      expect(Math.abs(mean(2) - 40), format).toBeLessThan(12);
    }
    const bmp = Buffer.alloc(70);
    bmp.write('BM', 0);
    expect(await code(preprocess(bmp, spec(16, 12), 'resize'))).toBe('bad_image');
  });

  it('grey and alpha inputs give 3 RGB planes (alpha dropped, like darknet\'s imread)', async () => {
    const grey = await sharp(Buffer.alloc(12 * 12, 77), { raw: { width: 12, height: 12, channels: 1 } }).png().toBuffer();
    const g = await preprocess(grey, spec(12, 12), 'letterbox');
    for (let i = 0; i < g.data.length; i++) expect(g.data[i]).toBe(Math.fround(77 / 255));
    const rgba = await sharp(Buffer.alloc(12 * 12 * 4, 200), { raw: { width: 12, height: 12, channels: 4 } }).png().toBuffer();
    const a = await preprocess(rgba, spec(12, 12), 'letterbox');
    for (let i = 0; i < a.data.length; i++) expect(a.data[i]).toBe(Math.fround(200 / 255));
  });

  it('applies EXIF orientation before laying out the image', async () => {
    // Stored 40x20: left half red, right half blue. Orientation 6 = rotate 90 deg clockwise to display,
    // so the displayed image is 20x40 with red on top and blue at the bottom.
    const raw = Buffer.alloc(40 * 20 * 3);
    for (let y = 0; y < 20; y++) for (let x = 0; x < 40; x++) raw.set(x < 20 ? [255, 0, 0] : [0, 0, 255], (y * 40 + x) * 3);
    const jpg = await sharp(raw, { raw: { width: 40, height: 20, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(jpg).metadata()).orientation).toBe(6);
    const r = await preprocess(jpg, spec(20, 40), 'letterbox');
    expect([r.width, r.height]).toEqual([20, 40]);
    expect(r.geometry).toMatchObject({ newW: 20, newH: 40, dx: 0, dy: 0 });
    const W = 20, H = 40;
    for (const x of [2, 10, 17]) {
      expect(at(r.data, W, H, 0, x, 3)).toBeGreaterThan(0.85);
      expect(at(r.data, W, H, 2, x, 3)).toBeLessThan(0.15);
      expect(at(r.data, W, H, 2, x, 36)).toBeGreaterThan(0.85);
      expect(at(r.data, W, H, 0, x, 36)).toBeLessThan(0.15);
    }
  });
});

describe('preprocess: the JPEG and PNG header read without sharp', () => {
  it('gives the displayed size sharp gives, for every EXIF orientation and without EXIF', async () => {
    const raw = Buffer.alloc(40 * 20 * 3, 128);
    const plain = await sharp(raw, { raw: { width: 40, height: 20, channels: 3 } }).jpeg().toBuffer();
    expect(headerSize(plain)).toEqual({ width: 40, height: 20 });
    for (let o = 1; o <= 8; o++) {
      const jpg = await sharp(plain).withMetadata({ orientation: o }).jpeg().toBuffer();
      const m = await sharp(jpg).metadata();
      expect(m.orientation).toBe(o);
      expect(headerSize(jpg)).toEqual({ width: m.autoOrient.width, height: m.autoOrient.height });
      const r = await preprocess(jpg, spec(32, 32), 'letterbox');
      expect([r.width, r.height]).toEqual([m.autoOrient.width, m.autoOrient.height]);
    }
    const progressive = await sharp(raw, { raw: { width: 40, height: 20, channels: 3 } }).jpeg({ progressive: true }).toBuffer();
    expect(headerSize(progressive)).toEqual({ width: 40, height: 20 });
  });

  it('a PNG: its size, unless an eXIf chunk may turn it (then sharp reads the header, and turns it)', async () => {
    const raw = Buffer.alloc(40 * 20 * 3, 100);
    const plain = await sharp(raw, { raw: { width: 40, height: 20, channels: 3 } }).png().toBuffer();
    expect(headerSize(plain)).toEqual({ width: 40, height: 20 });
    const turned = await sharp(raw, { raw: { width: 40, height: 20, channels: 3 } }).png().withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(turned).metadata()).autoOrient).toEqual({ width: 20, height: 40 });
    expect(headerSize(turned)).toBeUndefined();
    const r = await preprocess(turned, spec(32, 32), 'letterbox');
    expect([r.width, r.height]).toEqual([20, 40]);
  });

  it('leaves anything in doubt to sharp: other formats, no frame header, garbage after the signature', async () => {
    const p = await png(8, 8, () => [1, 2, 3]);
    expect(headerSize(await sharp(p).webp().toBuffer())).toBeUndefined();
    expect(headerSize(p.subarray(0, 20))).toBeUndefined();
    const jpg = await sharp(p).jpeg().toBuffer();
    const sof = jpg.indexOf(Buffer.from([0xff, 0xc0]));
    expect(headerSize(jpg.subarray(0, sof))).toBeUndefined();
    expect(headerSize(Buffer.from([0xff, 0xd8, 0xff]))).toBeUndefined();
    expect(headerSize(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.from('definitely not an image')]))).toBeUndefined();
    // and the same bytes through preprocess: sharp's header read words the error
    expect(await code(preprocess(jpg.subarray(0, sof), spec(32, 32), 'letterbox'))).toBe('bad_image');
  });

  it('a JPEG declaring 60000x60000 is refused by its header, before decoding: too_large naming the size', async () => {
    const bomb = await jpegBomb(60000, 60000);
    expect(headerSize(bomb)).toEqual({ width: 60000, height: 60000 });
    const err = await preprocess(bomb, spec(32, 32), 'letterbox').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PinholeError);
    expect((err as PinholeError).code).toBe('too_large');
    expect((err as Error).message).toMatch(/60000x60000/);
    // under the limit, the lie about its size is the decoder's to find: bad_image, not a picture
    expect(await code(preprocess(await jpegBomb(64, 64), spec(32, 32), 'letterbox'))).toBe('bad_image');
  });
});

describe('preprocess: bad input', () => {
  it('zero-byte, garbage, truncated and unsupported images are bad_image', async () => {
    const good = await png(64, 48, (x, y) => [(x * 37 + y * 11) % 256, (x * y) % 256, (x + y * 5) % 256]);
    const jpg = await sharp(good).jpeg().toBuffer();
    expect(await code(preprocess(new Uint8Array(0), spec(32, 32), 'letterbox'))).toBe('bad_image');
    expect(await code(preprocess(Buffer.from('definitely not an image'), spec(32, 32), 'letterbox'))).toBe('bad_image');
    expect(await code(preprocess(good.subarray(0, good.length >> 1), spec(32, 32), 'letterbox'))).toBe('bad_image');
    expect(await code(preprocess(jpg.subarray(0, jpg.length >> 1), spec(32, 32), 'letterbox'))).toBe('bad_image');
    // a JPEG header with garbage where the scan data should be
    const corrupt = Buffer.from(jpg);
    for (let i = Math.floor(corrupt.length / 3); i < corrupt.length - 2; i++) corrupt[i] = (i * 97) & 0xff;
    expect(await code(preprocess(corrupt, spec(32, 32), 'letterbox'))).toBe('bad_image');
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    expect(await code(preprocess(svg, spec(32, 32), 'letterbox'))).toBe('bad_image');
    // the good ones still decode
    expect((await preprocess(good, spec(32, 32), 'letterbox')).width).toBe(64);
    expect((await preprocess(jpg, spec(32, 32), 'letterbox')).height).toBe(48);
  });

  it('an image bomb (PNG header declaring 100000x100000) is refused before decoding: too_large (413)', async () => {
    const bomb = pngBomb(100000, 100000);
    expect(bomb.length).toBeLessThan(2000);
    const before = process.memoryUsage().rss;
    let err: unknown;
    try {
      await preprocess(bomb, spec(32, 32), 'letterbox');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PinholeError);
    expect((err as PinholeError).code).toBe('too_large');
    expect((err as PinholeError).status).toBe(413);
    expect((err as Error).message).toMatch(/100000x100000/);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
    // the limit is configurable and enforced on real images too
    const small = await png(50, 50, () => [1, 2, 3]);
    expect(await code(preprocess(small, spec(32, 32), 'letterbox', { maxInputPixels: 2000 }))).toBe('too_large');
  });
});
