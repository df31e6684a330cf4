// The PNG decoder the bilinear-tf path uses instead of libvips (src/runtime/png-pixels.ts): byte for byte
// sharp's pixels for every colour type it takes, none for the ones it leaves to sharp, and a damaged file
// still refused as sharp refuses it.
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { PinholeError } from '../src/errors.ts';
import type { InputSpec } from '../src/manifest.ts';
import { decodesInline, INLINE_MAX_PIXELS, plainPngType, pngRgb } from '../src/runtime/png-pixels.ts';
import { decodesPngItself, pixelLayout, preprocess } from '../src/runtime/preprocess.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import { ASTRONAUT, BASKETBALL } from './helpers/faceapi.ts';
import { rng } from './helpers/random.ts';
import { tempDirs } from './helpers/tmp.ts';

const tmp = tempDirs('pinhole-png-pixels-');

/** A picture with edges and noise in every channel (so a channel swap or an off-by-one row shows). */
function picture(w: number, h: number, seed: number): Buffer {
  const r = rng(seed);
  const px = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      px[i] = (x * 7 + y) & 255;
      px[i + 1] = Math.floor(r() * 256);
      px[i + 2] = x < w / 2 ? 30 : 220;
      px[i + 3] = (x + y * 3) & 255;
    }
  }
  return px;
}

const W = 67, H = 41;
const rgba = sharp(picture(W, H, 7), { raw: { width: W, height: H, channels: 4 } });

/** sharp's decode as preprocess asks it: alpha dropped, sRGB (grey replicated), interleaved. */
async function sharpRgb(png: Buffer): Promise<Buffer> {
  return sharp(png, { failOn: 'warning', autoOrient: true, ignoreIcc: true }).removeAlpha().toColourspace('srgb').raw().toBuffer();
}

const kinds: Array<[string, () => Promise<Buffer>, number]> = [
  ['RGB', () => rgba.clone().removeAlpha().png().toBuffer(), 2],
  ['RGBA', () => rgba.clone().png().toBuffer(), 6],
  ['grey', () => rgba.clone().removeAlpha().toColourspace('b-w').png().toBuffer(), 0],
  ['grey + alpha', () => rgba.clone().toColourspace('b-w').png().toBuffer(), 4],
  ['RGB, interlaced', () => rgba.clone().removeAlpha().png({ progressive: true }).toBuffer(), 2],
];

describe('PNG pixels without libvips', () => {
  for (const [name, make, type] of kinds) {
    it(`${name}: the same bytes as sharp's decode`, async () => {
      const png = await make();
      expect(plainPngType(png, W, H)).toBe(type);
      const px = await pngRgb(png, W, H);
      expect(px).toBeDefined();
      expect(Buffer.from(px!).equals(await sharpRgb(png))).toBe(true);
    });
  }

  it.skipIf(!existsSync(ASTRONAUT) || !existsSync(BASKETBALL))('real files (astronaut: RGB with an ICC profile; basketball1: grey): the same bytes as sharp', async () => {
    for (const f of [ASTRONAUT, BASKETBALL]) {
      const png = readFileSync(f);
      const { width, height } = await sharp(png).metadata();
      const px = await pngRgb(png, width, height);
      expect(px, f).toBeDefined();
      expect(Buffer.from(px!).equals(await sharpRgb(png)), f).toBe(true);
    }
  });

  it('decoded on the calling thread (a lone request): the same bytes, and the same tensor from preprocess', async () => {
    for (const [name, make] of kinds) {
      const png = await make();
      const px = await pngRgb(png, W, H, true);
      expect(px, name).toBeDefined();
      expect(Buffer.from(px!).equals(await sharpRgb(png)), name).toBe(true);
    }
    const png = await rgba.clone().removeAlpha().png().toBuffer();
    const spec: InputSpec = { width: 48, height: 48, channels: 3, layout: 'NCHW' };
    const layout = pixelLayout({ preprocess: 'pad-square', pad: 'top-left', pad_value: 0, mean: [117.001, 114.697, 97.404], std: [255, 255, 255], resample: 'bilinear-tf' });
    const a = await preprocess(png, spec, layout, { inline: true });
    const b = await preprocess(png, spec, layout);
    expect(Buffer.from(a.data.buffer).equals(Buffer.from(b.data.buffer))).toBe(true);
  });

  it('decodes on the calling thread only when asked and only up to INLINE_MAX_PIXELS; a damaged file still goes to sharp', async () => {
    expect(decodesInline(720, 528, true)).toBe(true);
    expect(decodesInline(720, 528, false)).toBe(false);
    expect(decodesInline(1000, INLINE_MAX_PIXELS / 1000, true)).toBe(true);
    expect(decodesInline(1001, INLINE_MAX_PIXELS / 1000, true)).toBe(false);
    const png = await rgba.clone().removeAlpha().png({ compressionLevel: 0 }).toBuffer();
    expect(await pngRgb(png.subarray(0, png.length - 200), W, H, true)).toBeUndefined();
  });

  it('a PNG that is a view into a larger buffer (a request body slice): the same bytes', async () => {
    const png = await rgba.clone().removeAlpha().png().toBuffer();
    const big = Buffer.concat([Buffer.alloc(1001, 7), png, Buffer.alloc(333, 9)]);
    const px = await pngRgb(new Uint8Array(big.buffer, big.byteOffset + 1001, png.length), W, H);
    expect(px).toBeDefined();
    expect(Buffer.from(px!).equals(await sharpRgb(png))).toBe(true);
  });

  it('leaves palette and 16-bit PNGs, a size other than the header read, and other formats to sharp', async () => {
    const palette = await rgba.clone().png({ palette: true }).toBuffer();
    const deep = await rgba.clone().removeAlpha().toColourspace('rgb16').png().toBuffer();
    const jpeg = await rgba.clone().removeAlpha().jpeg().toBuffer();
    const plain = await rgba.clone().png().toBuffer();
    expect(palette[25]).toBe(3);
    expect(deep[24]).toBe(16);
    for (const b of [palette, deep, jpeg]) {
      expect(plainPngType(b, W, H)).toBeUndefined();
      expect(await pngRgb(b, W, H)).toBeUndefined();
    }
    expect(plainPngType(plain, W + 1, H)).toBeUndefined();
  });

  it('a truncated or corrupted PNG: no pixels here, and preprocess refuses it as sharp does (bad_image)', async () => {
    const png = await rgba.clone().removeAlpha().png({ compressionLevel: 0 }).toBuffer();
    const truncated = png.subarray(0, png.length - 200);
    const corrupted = Buffer.from(png);
    corrupted[png.indexOf('IDAT') + 300] ^= 0x40;
    const spec: InputSpec = { width: 32, height: 32, channels: 3, layout: 'NCHW' };
    const layout = pixelLayout({ preprocess: 'pad-square', pad: 'top-left', pad_value: 0, mean: [117, 114, 97], std: [255, 255, 255], resample: 'bilinear-tf' });
    for (const bad of [truncated, corrupted]) {
      expect(await pngRgb(bad, W, H)).toBeUndefined();
      const err = await preprocess(bad, spec, layout).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(PinholeError);
      expect((err as PinholeError).code).toBe('bad_image');
    }
  });

  it('preprocess: the tensor of a PNG equals that of the same pixels handed over decoded', async () => {
    const png = await rgba.clone().removeAlpha().png().toBuffer();
    const spec: InputSpec = { width: 48, height: 48, channels: 3, layout: 'NCHW' };
    const layout = pixelLayout({ preprocess: 'pad-square', pad: 'top-left', pad_value: 0, mean: [117.001, 114.697, 97.404], std: [255, 255, 255], resample: 'bilinear-tf' });
    const fromPng = await preprocess(png, spec, layout);
    const fromRaw = await preprocess({ data: await sharpRgb(png), width: W, height: H, channels: 3 }, spec, layout);
    expect(Buffer.from(fromPng.data.buffer).equals(Buffer.from(fromRaw.data.buffer))).toBe(true);
  });

  it.skipIf(!existsSync(ASTRONAUT))('the runtime: a lone request (decoded on the main thread) and concurrent ones (on the pool) find what the decoded pixels give', async () => {
    const models = tmp();
    symlinkSync(resolve('models/tiny-face'), join(models, 'tiny-face'), 'dir');
    const rt = await Runtime.create({ modelsDir: models, maxBatch: 1, warmup: false, log: { info() {}, warn() {}, error() {} } });
    try {
      const png = readFileSync(ASTRONAUT);
      const { data, info } = await sharp(png, { ignoreIcc: true }).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      const reference = (await rt.detect('tiny-face', { data, width: info.width, height: info.height, channels: 3 })).detections;
      expect(reference.length).toBeGreaterThan(0);
      expect((await rt.detect('tiny-face', png)).detections).toEqual(reference);
      for (const r of await Promise.all([1, 2, 3].map(() => rt.detect('tiny-face', png)))) expect(r.detections).toEqual(reference);
    } finally {
      await rt.close();
    }
  });
});

describe('which models load the PNG decoder with them', () => {
  it('every layout whose sampling decodes the full picture itself, and no other', () => {
    expect(decodesPngItself({ mode: 'letterbox' })).toBe(true); // darknet's resampling by default
    expect(decodesPngItself({ mode: 'resize', resample: 'bilinear-darknet' })).toBe(true);
    expect(decodesPngItself({ mode: 'pad-square', resample: 'bilinear-tf' })).toBe(true);
    expect(decodesPngItself({ mode: 'letterbox', resample: 'cubic' })).toBe(false);
    expect(decodesPngItself({ mode: 'pad-square' })).toBe(false); // sharp pads and resizes
  });
});
