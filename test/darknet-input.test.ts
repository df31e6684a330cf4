// Our network input for an image file against darknet's own, made inside libdarknet (load_image_color,
// then letterbox_image or resize_image: test/helpers/dk_input.py): value for value, max |difference| 0,
// for JPEGs (sharp's libjpeg-turbo decodes them as darknet's OpenCV does), PNGs (RGB at an odd size, grey,
// with alpha), down and up, square and not. Also the default's rule: a JPEG that sharp shrinks while
// decoding (reduced 3x or more) gets sharp's cubic unless the model asks for darknet's resampling.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { exactDarknet, preprocess, type PixelLayout } from '../src/runtime/preprocess.ts';
import { letterboxGeometry } from '../src/vision/letterbox.ts';
import type { PreprocessMode } from '../src/vision/letterbox.ts';
import { darknetData, darknetInput } from './helpers/oracle.ts';

const work = mkdtempSync(join(tmpdir(), 'pinhole-dk-input-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A PNG made from one of darknet's JPEGs: `width` x `height`, RGB, grey or with a varying alpha. */
async function png(from: string, width: number, height: number, kind: 'rgb' | 'grey' | 'rgba'): Promise<string> {
  let img = sharp(darknetData(from)).resize(width, height, { fit: 'fill' });
  if (kind === 'grey') img = img.greyscale();
  if (kind === 'rgba') {
    const alpha = Buffer.from(Array.from({ length: width * height }, (_, i) => (i * 37) % 256));
    img = sharp(await img.raw().toBuffer(), { raw: { width, height, channels: 3 } })
      .joinChannel(alpha, { raw: { width, height, channels: 1 } });
  }
  const p = join(work, `${from}-${width}x${height}-${kind}.png`);
  writeFileSync(p, await img.png().toBuffer());
  return p;
}

interface Comparison { maxDiff: number; meanDiff: number; n: number }

async function compare(file: string, netW: number, netH: number, mode: PreprocessMode, resample?: PixelLayout['resample']): Promise<Comparison> {
  const dk = await darknetInput(file, netW, netH, mode === 'letterbox' ? 'letterbox' : 'resize');
  const ours = await preprocess(readFileSync(file), { width: netW, height: netH, channels: 3, layout: 'NCHW' }, { mode, resample });
  expect(ours.data.length).toBe(dk.input.length);
  expect({ width: ours.width, height: ours.height }).toEqual({ width: dk.width, height: dk.height });
  let maxDiff = 0, sum = 0;
  for (let i = 0; i < dk.input.length; i++) {
    const d = Math.abs(ours.data[i] - dk.input[i]);
    if (!(d <= maxDiff)) maxDiff = d; // NaN shows
    sum += d;
  }
  return { maxDiff, meanDiff: sum / dk.input.length, n: dk.input.length };
}

type PngSpec = Parameters<typeof png>;
const CASES: Array<{ image: string | PngSpec; net: [number, number]; mode: PreprocessMode }> = [
  { image: 'dog.jpg', net: [416, 416], mode: 'letterbox' },
  { image: 'dog.jpg', net: [416, 416], mode: 'resize' },
  { image: 'dog.jpg', net: [320, 320], mode: 'letterbox' },
  { image: 'person.jpg', net: [416, 416], mode: 'letterbox' },
  { image: 'horses.jpg', net: [608, 352], mode: 'letterbox' },
  { image: 'horses.jpg', net: [448, 448], mode: 'resize' },
  { image: 'scream.jpg', net: [608, 608], mode: 'letterbox' }, // 352x448: upscaled
  { image: ['giraffe.jpg', 517, 389, 'rgb'], net: [416, 416], mode: 'letterbox' },
  { image: ['eagle.jpg', 301, 233, 'grey'], net: [416, 416], mode: 'resize' },
  { image: ['person.jpg', 640, 424, 'rgba'], net: [416, 416], mode: 'letterbox' },
];

describe('network input == darknet\'s own (libdarknet load_image_color + letterbox_image / resize_image)', () => {
  for (const c of CASES) {
    const name = typeof c.image === 'string' ? c.image : `${c.image[0]} as a ${c.image[1]}x${c.image[2]} ${c.image[3]} PNG`;
    it(`${name} -> ${c.net.join('x')} ${c.mode}: max |difference| 0`, async () => {
      const file = typeof c.image === 'string' ? darknetData(c.image) : await png(...c.image);
      const r = await compare(file, c.net[0], c.net[1], c.mode);
      console.log(`[darknet-input] ${name} -> ${c.net.join('x')} ${c.mode}: max |ours - darknet| ${r.maxDiff} over ${r.n} values`);
      expect(r.maxDiff).toBe(0);
    });
  }

  it('decoded RGB pixels (a video frame): darknet\'s input for the file they came from', async () => {
    const file = darknetData('person.jpg');
    const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const dk = await darknetInput(file, 416, 416, 'letterbox');
    const ours = await preprocess({ data, width: info.width, height: info.height, channels: 3 }, { width: 416, height: 416, channels: 3, layout: 'NCHW' }, 'letterbox');
    let maxDiff = 0;
    for (let i = 0; i < dk.input.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ours.data[i] - dk.input[i]));
    expect(maxDiff).toBe(0);
  });

  it('kite.jpg (1352x900, reduced 3.25x): sharp\'s cubic by default, darknet\'s exactly when the model asks', async () => {
    const file = darknetData('kite.jpg');
    const byDefault = await compare(file, 416, 416, 'letterbox');
    const asked = await compare(file, 416, 416, 'letterbox', 'bilinear-darknet');
    const cubic = await compare(file, 416, 416, 'letterbox', 'cubic');
    console.log(`[darknet-input] kite.jpg -> 416 letterbox: default mean |diff| ${byDefault.meanDiff.toFixed(4)}, bilinear-darknet max ${asked.maxDiff}, cubic mean ${cubic.meanDiff.toFixed(4)}`);
    expect(asked.maxDiff).toBe(0);
    expect(byDefault).toEqual(cubic);
    expect(cubic.maxDiff).toBeGreaterThan(0.01);
  });

  it('a WebP (libwebp scales while decoding for sharp): cubic by default when reduced, darknet\'s exactly when asked', async () => {
    const file = join(work, 'dog.webp');
    writeFileSync(file, await sharp(darknetData('dog.jpg')).webp({ quality: 90 }).toBuffer());
    const asked = await compare(file, 416, 416, 'letterbox', 'bilinear-darknet');
    console.log(`[darknet-input] dog.webp -> 416 letterbox, bilinear-darknet: max |ours - darknet| ${asked.maxDiff}`);
    expect(asked.maxDiff).toBe(0);
    expect(await compare(file, 416, 416, 'letterbox')).toEqual(await compare(file, 416, 416, 'letterbox', 'cubic'));
  });

  it('the default\'s rule: darknet\'s unless sharp shrinks the picture while decoding it', () => {
    const rule = (format: string | undefined, w: number, h: number, resample?: PixelLayout['resample']) =>
      exactDarknet(resample, { width: w, height: h, format }, letterboxGeometry(w, h, 416, 416));
    expect(rule('jpeg', 768, 576)).toBe(true);
    expect(rule('jpeg', 1247, 935)).toBe(true); // 2.998x
    expect(rule('jpeg', 1248, 936)).toBe(false); // 3x: libjpeg's DCT-domain shrink by 2
    expect(rule('jpeg', 4000, 3000)).toBe(false);
    expect(rule('jpeg', 4000, 3000, 'bilinear-darknet')).toBe(true);
    expect(rule('jpeg', 768, 576, 'cubic')).toBe(false);
    expect(rule('webp', 416, 312)).toBe(true);
    expect(rule('webp', 320, 240)).toBe(true);
    expect(rule('webp', 768, 576)).toBe(false);
    for (const f of ['png', 'gif', 'tiff', 'heif', undefined]) expect(rule(f, 4000, 3000)).toBe(true);
  });

  it('cubic stays selectable: dog.jpg with resample cubic is sharp\'s, ~.01 from darknet\'s on average', async () => {
    const r = await compare(darknetData('dog.jpg'), 416, 416, 'letterbox', 'cubic');
    console.log(`[darknet-input] dog.jpg -> 416 letterbox, cubic: mean |ours - darknet| ${r.meanDiff.toFixed(4)}, max ${r.maxDiff.toFixed(4)}`);
    expect(r.meanDiff).toBeGreaterThan(0.003);
    expect(r.meanDiff).toBeLessThan(0.03);
  });
});
