// The full-size JPEG decode by libjpeg-turbo (src/runtime/jpeg-turbo.ts, jpeg-markers.ts): sharp's pixels
// byte for byte on real photos and on every coding cjpeg makes (progressive, grey, restart markers, each
// chroma subsampling, RGB, odd sizes), the same network input from preprocess as with sharp alone, damaged
// files refused exactly where sharp refuses them, EXIF orientation left to sharp unless it is 1, and sharp
// for everything when the library is absent or PINHOLE_JPEG=sharp.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PinholeError } from '../src/errors.ts';
import type { InputSpec } from '../src/manifest.ts';
import { jpegFrame, tiffOrientation } from '../src/runtime/jpeg-markers.ts';
import { idleJpegHandles, jpegDecoder, turboEligible, turboRgb, withTurboRgb } from '../src/runtime/jpeg-turbo.ts';
import { headerSize, jpegShrinkOnLoad, preprocess, type PixelLayout } from '../src/runtime/preprocess.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import { ASTRONAUT } from './helpers/faceapi.ts';
import { rng } from './helpers/random.ts';
import { tempDirs } from './helpers/tmp.ts';

const tmp = tempDirs('pinhole-jpeg-turbo-');
const DARKNET_DATA = '/usr/share/darknet/data';
const SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data';
const decoder = await jpegDecoder();
const hasLibrary = decoder.kind === 'turbo';
/** why the tests that need libturbojpeg are skipped here (.ci/run installs it) */
const skipped = decoder.kind === 'sharp' ? ` (skipped: ${decoder.reason}; apt-get install libturbojpeg0, as .ci/run does)` : '';
const hasCjpeg = (() => {
  try {
    execFileSync('cjpeg', ['-version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
})();
const LIMIT = 40_000_000;

/** sharp's decode as preprocess asks it: no ICC transform, EXIF orientation applied, sRGB, interleaved. */
function sharpRgb(jpg: Uint8Array): Promise<Buffer> {
  return sharp(jpg, { failOn: 'warning', autoOrient: true, ignoreIcc: true }).removeAlpha().toColourspace('srgb').raw().toBuffer();
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** The JPEGs cjpeg makes of one picture, one per coding option (libjpeg-turbo-progs). */
async function cjpegVariants(png: string, crop?: { left: number; top: number; width: number; height: number }): Promise<Array<[string, Buffer]>> {
  let img = sharp(png).removeAlpha().toColourspace('srgb');
  if (crop) img = img.extract(crop);
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  const dir = tmp();
  const ppm = join(dir, 'in.ppm');
  writeFileSync(ppm, Buffer.concat([Buffer.from(`P6\n${info.width} ${info.height}\n255\n`), data]));
  const options = [
    '-quality 90', '-quality 75 -sample 2x1', '-quality 95 -sample 1x1', '-quality 80 -sample 1x2', '-quality 85 -sample 4x1',
    '-progressive -quality 88', '-restart 1 -quality 90', '-restart 7B -quality 92', '-grayscale -quality 90', '-rgb -quality 90',
    '-optimize -quality 60 -dct float', '-quality 100',
  ];
  return options.map((o) => {
    const out = join(dir, 'out.jpg');
    execFileSync('cjpeg', [...o.split(' '), '-outfile', out, ppm]);
    return [o, readFileSync(out)];
  });
}

/** A JPEG with APP1 EXIF segments made of these TIFF blobs, right after SOI. */
function withExif(jpg: Buffer, ...tiffs: Buffer[]): Buffer {
  const segs = tiffs.map((t) => {
    const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), t]);
    const head = Buffer.from([0xff, 0xe1, 0, 0]);
    head.writeUInt16BE(body.length + 2, 2);
    return Buffer.concat([head, body]);
  });
  return Buffer.concat([jpg.subarray(0, 2), ...segs, jpg.subarray(2)]);
}

/** A little-endian TIFF: IFD0 with these SHORT entries, then IFD1 (linked as the next IFD) with its own. */
function tiff(ifd0: Array<[number, number]>, ifd1: Array<[number, number]> = []): Buffer {
  const ifdBytes = (n: number) => 2 + n * 12 + 4;
  const at0 = 8, at1 = at0 + ifdBytes(ifd0.length);
  const b = Buffer.alloc(at1 + (ifd1.length ? ifdBytes(ifd1.length) : 0));
  b.write('II', 0, 'latin1');
  b.writeUInt16LE(42, 2);
  b.writeUInt32LE(at0, 4);
  const write = (at: number, entries: Array<[number, number]>, next: number) => {
    b.writeUInt16LE(entries.length, at);
    entries.forEach(([tag, v], k) => {
      const e = at + 2 + k * 12;
      b.writeUInt16LE(tag, e);
      b.writeUInt16LE(3, e + 2);
      b.writeUInt32LE(1, e + 4);
      b.writeUInt16LE(v, e + 8);
    });
    b.writeUInt32LE(next, at + 2 + entries.length * 12);
  };
  write(at0, ifd0, ifd1.length ? at1 : 0);
  if (ifd1.length) write(at1, ifd1, 0);
  return b;
}

const plainJpeg = async (w = 40, h = 20) => {
  const raw = Buffer.alloc(w * h * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 37 + (i % 3) * 80) & 255;
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
};

describe('the header walk (jpeg-markers.ts)', () => {
  it('reads the frame and the EXIF orientation sharp reads, for every orientation and without EXIF', async () => {
    const plain = await plainJpeg();
    expect(jpegFrame(plain)).toMatchObject({ sof: 0xc0, precision: 8, width: 40, height: 20, components: 3, orientation: 1 });
    for (let o = 1; o <= 8; o++) {
      const jpg = await sharp(plain).withMetadata({ orientation: o }).jpeg().toBuffer();
      expect((await sharp(jpg).metadata()).orientation).toBe(o);
      expect(jpegFrame(jpg)?.orientation).toBe(o);
      expect(turboEligible(jpg)).toBe(o === 1);
    }
    const progressive = await sharp(plain).jpeg({ progressive: true }).toBuffer();
    expect(jpegFrame(progressive)).toMatchObject({ sof: 0xc2, orientation: 1 });
  });

  it('leaves any doubt about the orientation to sharp: two EXIF blocks, one only in IFD1, a bad value, a broken IFD', async () => {
    const plain = await plainJpeg();
    expect(jpegFrame(withExif(plain, tiff([[0x010f, 7]])))?.orientation).toBe(1); // EXIF without Orientation
    expect(jpegFrame(withExif(plain, tiff([[0x0112, 1]], [[0x0112, 6]])))?.orientation).toBe(1); // IFD0's answers
    expect(jpegFrame(withExif(plain, tiff([[0x010f, 7]], [[0x0112, 6]])))?.orientation).toBeUndefined();
    expect(jpegFrame(withExif(plain, tiff([[0x0112, 1]]), tiff([[0x0112, 1]])))?.orientation).toBeUndefined();
    expect(jpegFrame(withExif(plain, tiff([[0x0112, 9]])))?.orientation).toBeUndefined();
    const broken = tiff([[0x0112, 1]]);
    broken.writeUInt32LE(4000, 4); // IFD0 beyond the block
    expect(jpegFrame(withExif(plain, broken))?.orientation).toBeUndefined();
    expect(tiffOrientation(new DataView(new ArrayBuffer(4)))).toBeUndefined();
  });

  it('two EXIF blocks that disagree: preprocess lays the picture out as sharp turns it (libvips reads the first)', async () => {
    const plain = await plainJpeg();
    for (const [a, b] of [[1, 6], [6, 1]]) {
      const jpg = withExif(plain, tiff([[0x0112, a]]), tiff([[0x0112, b]]));
      const { autoOrient } = await sharp(jpg).metadata();
      expect(autoOrient).toEqual(a === 6 ? { width: 20, height: 40 } : { width: 40, height: 20 });
      expect(headerSize(jpg)).toBeUndefined();
      const r = await preprocess(jpg, { width: 32, height: 32, channels: 3, layout: 'NCHW' }, 'letterbox');
      expect([r.width, r.height]).toEqual([autoOrient.width, autoOrient.height]);
    }
  });

  it('refuses what is not a JPEG up to its first scan', async () => {
    const plain = await plainJpeg();
    const sos = plain.indexOf(Buffer.from([0xff, 0xda]));
    expect(jpegFrame(plain.subarray(0, sos))).toBeUndefined();
    expect(jpegFrame(plain.subarray(0, 100))).toBeUndefined();
    expect(jpegFrame(Buffer.from('definitely not an image'))).toBeUndefined();
    const cmyk = await sharp(plain).toColourspace('cmyk').jpeg().toBuffer();
    expect(jpegFrame(cmyk)?.components).toBe(4);
    expect(turboEligible(cmyk)).toBe(false);
  });
});

describe.skipIf(!hasLibrary)(`libjpeg-turbo's pixels == sharp's${skipped}`, () => {
  const photos = [
    ...(existsSync(DARKNET_DATA) ? readdirSync(DARKNET_DATA).filter((f) => f.endsWith('.jpg')).map((f) => join(DARKNET_DATA, f)) : []),
    ...(existsSync(SKIMAGE) ? readdirSync(SKIMAGE).filter((f) => f.endsWith('.jpg') && f !== 'truncated.jpg').map((f) => join(SKIMAGE, f)) : []),
  ];

  it.skipIf(photos.length === 0)(`darknet's sample photos and skimage's JPEGs (${photos.length}): max |difference| 0`, async () => {
    for (const f of photos) {
      const jpg = readFileSync(f);
      const fr = jpegFrame(jpg)!;
      const px = await turboRgb(jpg, fr.width, fr.height, LIMIT);
      expect(px, f).toBeDefined();
      expect(maxDiff(px!, await sharpRgb(jpg)), f).toBe(0);
    }
  });

  it.skipIf(!hasCjpeg || !existsSync(ASTRONAUT))(`${hasCjpeg ? '' : '(skipped: no cjpeg; apt-get install libjpeg-turbo-progs, as .ci/run does) '}every coding cjpeg makes of astronaut, chelsea and coffee, whole and at 333x251: max |difference| 0`, async () => {
    let n = 0;
    for (const name of ['astronaut', 'chelsea', 'coffee']) {
      const png = join(SKIMAGE, `${name}.png`);
      for (const crop of [undefined, { left: 3, top: 5, width: 333, height: 251 }]) {
        for (const [opts, jpg] of await cjpegVariants(png, crop)) {
          const fr = jpegFrame(jpg)!;
          const px = await turboRgb(jpg, fr.width, fr.height, LIMIT);
          const what = `${name}${crop ? ' 333x251' : ''} cjpeg ${opts}`;
          expect(px, what).toBeDefined();
          expect(maxDiff(px!, await sharpRgb(jpg)), what).toBe(0);
          n++;
        }
      }
    }
    expect(n).toBe(72);
  });

  it('EXIF with orientation 1 (or none anywhere) is decoded here as stored, as sharp does', async () => {
    const plain = await plainJpeg(41, 23);
    for (const jpg of [withExif(plain, tiff([[0x0112, 1]], [[0x0112, 6]])), withExif(plain, tiff([[0x010f, 7]])),
      await sharp(plain).withMetadata({ orientation: 1 }).jpeg().toBuffer()]) {
      const px = await turboRgb(jpg, 41, 23, LIMIT);
      expect(px).toBeDefined();
      expect(maxDiff(px!, await sharpRgb(jpg))).toBe(0);
    }
  });

  it('leaves to sharp: other orientations, CMYK, arithmetic coding, a header that disagrees with the size asked', async () => {
    const plain = await plainJpeg(41, 23);
    expect(await turboRgb(await sharp(plain).withMetadata({ orientation: 6 }).jpeg().toBuffer(), 23, 41, LIMIT)).toBeUndefined();
    expect(await turboRgb(await sharp(plain).toColourspace('cmyk').jpeg().toBuffer(), 41, 23, LIMIT)).toBeUndefined();
    expect(await turboRgb(plain, 40, 23, LIMIT)).toBeUndefined();
    if (hasCjpeg) {
      const dir = tmp();
      writeFileSync(join(dir, 'p.ppm'), Buffer.concat([Buffer.from('P6\n41 23\n255\n'), await sharp(plain).raw().toBuffer()]));
      const arith = execFileSync('cjpeg', ['-arithmetic', join(dir, 'p.ppm')]);
      expect(jpegFrame(arith)?.sof).toBe(0xc9);
      expect(await turboRgb(arith, 41, 23, LIMIT)).toBeUndefined();
    }
  });

  it('the pixel limit holds on the library\'s own header read, before anything is allocated', async () => {
    const jpg = Buffer.from(await plainJpeg(16, 16));
    const sof = jpg.indexOf(Buffer.from([0xff, 0xc0]));
    jpg.writeUInt16BE(60000, sof + 5);
    jpg.writeUInt16BE(60000, sof + 7);
    const err = await turboRgb(jpg, 60000, 60000, LIMIT).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PinholeError);
    expect((err as PinholeError).code).toBe('too_large');
    expect((err as Error).message).toMatch(/60000x60000/);
  });
});

describe.skipIf(!hasLibrary)(`damaged files: refused where sharp refuses them, never a picture sharp would not give${skipped}`, () => {
  it('truncations, bit flips, garbage and cut-outs of baseline, progressive, grey and restart-marker JPEGs', async () => {
    const r = rng(20);
    const bases: Buffer[] = [await plainJpeg(160, 120), await sharp(await plainJpeg(160, 120)).jpeg({ progressive: true, quality: 85 }).toBuffer(),
      await sharp(await plainJpeg(160, 120)).toColourspace('b-w').jpeg().toBuffer()];
    if (existsSync(join(DARKNET_DATA, 'dog.jpg'))) bases.push(readFileSync(join(DARKNET_DATA, 'dog.jpg')));
    if (hasCjpeg && existsSync(ASTRONAUT)) bases.push((await cjpegVariants(ASTRONAUT, { left: 0, top: 0, width: 200, height: 150 }))[6][1]);
    const tally = { decodedHere: 0, refusedByBoth: 0, sharpDecodes: 0 };
    // one handle is reused throughout: a damaged header must not spoil it for the good files after it
    for (const base of bases) {
      const sos = base.indexOf(Buffer.from([0xff, 0xda]));
      const { width, height } = jpegFrame(base)!;
      for (let k = 0; k < 60; k++) {
        const b = Buffer.from(base);
        const pick = r(), at = sos + Math.floor(r() * (b.length - sos));
        let m: Buffer = b;
        if (pick < 0.3) m = b.subarray(0, sos + Math.floor(r() * (b.length - sos)));
        else if (pick < 0.6) b[at] ^= 1 << Math.floor(r() * 8);
        else if (pick < 0.75) b[2 + Math.floor(r() * (sos - 2))] ^= 1 << Math.floor(r() * 8);
        else if (pick < 0.9) for (let j = at; j < Math.min(at + 1 + r() * 64, b.length); j++) b[j] = Math.floor(r() * 256);
        else m = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + Math.floor(r() * 2000)))]);
        const ref = await sharpRgb(m).catch(() => undefined);
        const fr = jpegFrame(m);
        const px = fr && fr.width === width && fr.height === height ? await turboRgb(m, width, height, LIMIT) : undefined;
        if (px) {
          expect(ref, `mutant ${k}: decoded here, refused by sharp`).toBeDefined();
          expect(maxDiff(px, ref!)).toBe(0);
          tally.decodedHere++;
        } else if (ref) tally.sharpDecodes++;
        else tally.refusedByBoth++;
      }
      expect(await turboRgb(base, width, height, LIMIT), 'the undamaged file after its mutants').toBeDefined();
    }
    console.log(`[jpeg-turbo] damaged JPEGs: ${JSON.stringify(tally)}`);
    expect(tally.decodedHere).toBeGreaterThan(20);
    expect(tally.refusedByBoth).toBeGreaterThan(20);
  });
});

describe('preprocess: the same network input with libjpeg-turbo as with sharp alone', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  /** preprocess and the decoder of a fresh module instance, loaded under these environment variables. */
  async function instance(env: Record<string, string>) {
    vi.resetModules();
    for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
    const turbo = await import('../src/runtime/jpeg-turbo.ts');
    const decoder = await turbo.jpegDecoder();
    const pre = await import('../src/runtime/preprocess.ts');
    vi.unstubAllEnvs();
    return { decoder, preprocess: pre.preprocess as typeof preprocess };
  }

  const spec = (w: number, h: number): InputSpec => ({ width: w, height: h, channels: 3, layout: 'NCHW' });
  const layouts: Array<[string, InputSpec, PixelLayout]> = [
    ['letterbox 416', spec(416, 416), { mode: 'letterbox' }],
    ['resize 320', spec(320, 320), { mode: 'resize' }],
    ['letterbox 608, bilinear-darknet', spec(608, 608), { mode: 'letterbox', resample: 'bilinear-darknet' }],
    ['tiny-face: pad-square, bilinear-tf, mean', spec(416, 416), { mode: 'pad-square', pad: 'top-left', padValue: 0, resample: 'bilinear-tf', mean: [117.001, 114.697, 97.404], std: [255, 255, 255] }],
    ['pad-square centred, sharp\'s cubic, grey padding', spec(320, 320), { mode: 'pad-square', pad: 'center', padValue: 114 }],
    ['pad-square top-left, sharp\'s cubic, a padding between two values', spec(320, 320), { mode: 'pad-square', pad: 'top-left', padValue: 127.5 }],
  ];

  it.skipIf(!hasLibrary || !existsSync(join(DARKNET_DATA, 'dog.jpg')))(`sharp's cubic path: big JPEGs shrunk on load by sharp's own factor, and the cubic the model asks for: max |difference| 0${skipped}`, async () => {
    const turbo = await instance({});
    const viaSharp = await instance({ PINHOLE_JPEG: 'sharp' });
    const dog = readFileSync(join(DARKNET_DATA, 'dog.jpg'));
    const jpeg = (w: number, h: number) => sharp(dog).resize(w, h, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
    const cases: Array<[string, Buffer, InputSpec, PixelLayout]> = [
      ['1280x960 -> 416 (3.1x: 1/2 on load)', await jpeg(1280, 960), spec(416, 416), { mode: 'letterbox' }],
      ['1920x1080 -> 416 (4.6x: 1/2)', await jpeg(1920, 1080), spec(416, 416), { mode: 'letterbox' }],
      ['2048x1536 -> 416 resize (4.9x: 1/2, sharp halves 4 for a reduction of 4.x)', await jpeg(2048, 1536), spec(416, 416), { mode: 'resize' }],
      ['2560x1920 -> 416 (6.2x: 1/4)', await jpeg(2560, 1920), spec(416, 416), { mode: 'letterbox' }],
      ['4000x3000 -> 416 (9.6x: 1/8)', await jpeg(4000, 3000), spec(416, 416), { mode: 'letterbox' }],
      ['kite.jpg 1352x900 -> 416 (3.25x: 1/2)', readFileSync(join(DARKNET_DATA, 'kite.jpg')), spec(416, 416), { mode: 'letterbox' }],
      ['1001x751 -> 320 (odd sides: sharp decodes)', await jpeg(1001, 751), spec(320, 320), { mode: 'letterbox' }],
      ['dog.jpg -> 416, cubic asked', dog, spec(416, 416), { mode: 'letterbox', resample: 'cubic' }],
      ['640x480 -> 320, cubic asked (2x: none on load)', await jpeg(640, 480), spec(320, 320), { mode: 'letterbox', resample: 'cubic' }],
      ['416x312 at its size, cubic asked (no resize)', await jpeg(416, 312), spec(416, 416), { mode: 'letterbox', resample: 'cubic' }],
      ['grey 1280x960 -> 416', await sharp(await jpeg(1280, 960)).toColourspace('b-w').jpeg().toBuffer(), spec(416, 416), { mode: 'letterbox' }],
    ];
    for (const [name, jpg, s, layout] of cases) {
      const a = await turbo.preprocess(jpg, s, layout), b = await viaSharp.preprocess(jpg, s, layout);
      expect(a.data.every((v, i) => v === b.data[i]), name).toBe(true);
    }
    expect([[1280, 960, 416, 312], [1920, 1080, 416, 234], [2048, 1536, 416, 416], [2560, 1920, 416, 312], [4000, 3000, 416, 312], [640, 480, 320, 240], [768, 576, 416, 312]]
      .map(([w, h, nw, nh]) => jpegShrinkOnLoad(w, h, nw, nh))).toEqual([2, 2, 2, 4, 8, 1, 1]);
    // damaged big JPEGs on this path: refused by both, or the same tensor from both
    const r = rng(21), big = await jpeg(1280, 960), outcome: Record<string, number> = {};
    const sos = big.indexOf(Buffer.from([0xff, 0xda]));
    for (let k = 0; k < 24; k++) {
      const b = Buffer.from(big), at = sos + Math.floor(r() * (big.length - sos));
      const m = k % 3 === 0 ? b.subarray(0, at) : (b[at] ^= 1 << Math.floor(r() * 8), b);
      const run = (p: typeof turbo) => p.preprocess(m, spec(416, 416), { mode: 'letterbox' }).then((x) => x.data, (e: PinholeError) => e.code);
      const [a, c] = [await run(turbo), await run(viaSharp)];
      const same = typeof a === 'string' || typeof c === 'string' ? a === c : a.every((v, i) => v === c[i]);
      expect(same, `mutant ${k}: ${typeof a === 'string' ? a : 'decoded'} against sharp's ${typeof c === 'string' ? c : 'decoded'}`).toBe(true);
      outcome[typeof a === 'string' ? a : 'decoded'] = (outcome[typeof a === 'string' ? a : 'decoded'] ?? 0) + 1;
    }
    expect(outcome.bad_image).toBeGreaterThan(3);
    expect(outcome.decoded).toBeGreaterThan(3);
    // and libjpeg-turbo did decode them: reduced in the DCT domain to 1/2, 1/4, 1/8
    for (const [w, h, f] of [[1280, 960, 2], [2560, 1920, 4], [4000, 3000, 8]]) {
      expect(await withTurboRgb(await jpeg(w, h), w, h, LIMIT, (px, sw, sh) => [px.length, sw, sh], f)).toEqual({ value: [(w / f) * (h / f) * 3, w / f, h / f] });
    }
  });

  it('forced sharp (PINHOLE_JPEG=sharp) and a missing library both fall back to sharp, and say why', async () => {
    const forced = await instance({ PINHOLE_JPEG: 'sharp' });
    expect(forced.decoder).toEqual({ kind: 'sharp', reason: 'PINHOLE_JPEG=sharp' });
    // a value it does not know is not taken for either: sharp, and the log line names the value
    const typo = await instance({ PINHOLE_JPEG: 'libjpeg' });
    expect(typo.decoder).toEqual({ kind: 'sharp', reason: 'PINHOLE_JPEG="libjpeg" is neither sharp nor turbo' });
    const missing = await instance({ PINHOLE_TURBOJPEG: '/nonexistent/libturbojpeg.so.0' });
    expect(missing.decoder.kind).toBe('sharp');
    expect(missing.decoder.kind === 'sharp' && missing.decoder.reason).toMatch(/libturbojpeg did not load .*\/nonexistent\/libturbojpeg\.so\.0/);
    const jpg = await plainJpeg(64, 48);
    const a = await forced.preprocess(jpg, spec(32, 32), 'letterbox');
    const b = await missing.preprocess(jpg, spec(32, 32), 'letterbox');
    expect(maxDiff(new Uint8Array(a.data.buffer), new Uint8Array(b.data.buffer))).toBe(0);
    expect(await missing.preprocess(jpg.subarray(0, jpg.length >> 1), spec(32, 32), 'letterbox').catch((e: PinholeError) => e.code)).toBe('bad_image');
  });

  it.skipIf(!hasLibrary)(`darknet's photos, an EXIF-rotated, a grey, a progressive and a damaged JPEG, through every layout: max |difference| 0${skipped}`, async () => {
    const turbo = await instance({});
    const viaSharp = await instance({ PINHOLE_JPEG: 'sharp' });
    expect(turbo.decoder.kind).toBe('turbo');
    const files: Array<[string, Buffer]> = existsSync(DARKNET_DATA)
      ? ['dog.jpg', 'person.jpg', 'scream.jpg', 'eagle.jpg'].map((f) => [f, readFileSync(join(DARKNET_DATA, f))]) : [];
    const plain = await plainJpeg(203, 151);
    files.push(['rotated (orientation 6)', await sharp(plain).withMetadata({ orientation: 6 }).jpeg().toBuffer()],
      ['grey', await sharp(plain).toColourspace('b-w').jpeg().toBuffer()],
      ['progressive', await sharp(plain).jpeg({ progressive: true }).toBuffer()]);
    for (const [name, jpg] of files) {
      for (const [lname, s, layout] of layouts) {
        const a = await turbo.preprocess(jpg, s, layout), b = await viaSharp.preprocess(jpg, s, layout);
        expect([a.width, a.height], `${name}, ${lname}`).toEqual([b.width, b.height]);
        let d = 0;
        for (let i = 0; i < a.data.length; i++) d = Math.max(d, Math.abs(a.data[i] - b.data[i]));
        expect(d, `${name}, ${lname}`).toBe(0);
      }
    }
    // many at once, of different sizes: each decode has its own handle and buffer until its tensor is made
    const many = await Promise.all(files.map(([, jpg]) => turbo.preprocess(jpg, spec(416, 416), 'letterbox')));
    for (let k = 0; k < files.length; k++) {
      const one = await viaSharp.preprocess(files[k][1], spec(416, 416), 'letterbox');
      expect(many[k].data.every((v, i) => v === one.data[i]), `${files[k][0]} decoded beside ${files.length - 1} others`).toBe(true);
    }
    const damaged = plain.subarray(0, plain.length - 300);
    for (const p of [turbo, viaSharp]) {
      // each instance has its own PinholeError class: the code is what the server maps
      expect(await p.preprocess(damaged, spec(416, 416), 'letterbox').then(() => 'decoded', (e: PinholeError) => e.code)).toBe('bad_image');
    }
  });
});

describe.skipIf(!hasLibrary || !existsSync(join(DARKNET_DATA, 'dog.jpg')))(`the runtime${skipped}`, () => {
  it('names the JPEG decoder in its log once, finds in dog.jpg what its decoded pixels give (one at a time, eight at once), frees its handles at close', async () => {
    const models = tmp();
    symlinkSync(resolve('models/yolov2-synth-int8'), join(models, 'yolov2-synth-int8'), 'dir');
    const info: string[] = [];
    const rt = await Runtime.create({ modelsDir: models, warmup: false, log: { info: (m) => info.push(m), warn() {}, error() {} } });
    try {
      expect(info.filter((m) => m.startsWith('JPEG decoder'))).toEqual(['JPEG decoder: libjpeg-turbo (libturbojpeg.so.0 via koffi)']);
      const jpg = readFileSync(join(DARKNET_DATA, 'dog.jpg'));
      const px = await sharpRgb(jpg);
      const reference = (await rt.detect('yolov2-synth-int8', { data: px, width: 768, height: 576, channels: 3 }, { thresh: 0.05 })).detections;
      expect(reference.length).toBeGreaterThan(5);
      expect((await rt.detect('yolov2-synth-int8', jpg, { thresh: 0.05 })).detections).toEqual(reference);
      const many = await Promise.all(Array.from({ length: 8 }, () => rt.detect('yolov2-synth-int8', jpg, { thresh: 0.05 })));
      for (const r of many) expect(r.detections).toEqual(reference);
      expect(idleJpegHandles()).toBeGreaterThan(1);
    } finally {
      await rt.close();
    }
    expect(idleJpegHandles(), 'handles left after close').toBe(0);
  });
});
