// The model.json pixel and decode options face-api's detector needs, tested as the generic options they
// are: validation, pad-square geometry and its inverse map, TensorFlow-bilinear resampling (against
// tf.image.resizeBilinear itself), the preprocess paths (pad-square with cubic or bilinear-tf, letterbox
// with bilinear-tf, mean/std), a region output without class entries, and a model's own thresh default.
import { createRequire } from 'node:module';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type * as tfTypes from '@tensorflow/tfjs';
import { validateManifest, type InputSpec } from '../src/manifest.ts';
import { preprocess, type PixelLayout } from '../src/runtime/preprocess.ts';
import { boxFrame, squarePad } from '../src/vision/letterbox.ts';
import { postprocess, resolveParams } from '../src/vision/postprocess.ts';
import { decodeRegion } from '../src/vision/region.ts';
import { resampleBilinear } from '../src/vision/resample.ts';

const spec = (w: number, h: number): InputSpec => ({ width: w, height: h, channels: 3, layout: 'NCHW' });
const base = {
  name: 'm', kind: 'yolov2', input: spec(32, 32), preprocess: 'pad-square', names: ['face'], source: 'face-api',
  num: 1, anchors: [1, 1], coords: 4, softmax: false,
};

function rgb(w: number, h: number, px: (x: number, y: number) => [number, number, number]): Buffer {
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(px(x, y), (y * w + x) * 3);
  return raw;
}
const png = (w: number, h: number, raw: Buffer) => sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();

describe('model.json pixel options', () => {
  it('accepts the face-api layout and refuses bad values with the field named', () => {
    expect(() => validateManifest({ ...base, pad: 'top-left', pad_value: 0, resample: 'bilinear-tf', mean: [1, 2, 3], std: [255, 255, 255], class_scores: false, thresh: 0.5 })).not.toThrow();
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ preprocess: 'crop' }, /"preprocess" must be one of letterbox, resize, pad-square/],
      [{ pad: 'bottom' }, /"pad" must be top-left or center/],
      [{ preprocess: 'letterbox', pad: 'center' }, /apply to preprocess pad-square only/],
      [{ pad_value: 300 }, /"pad_value" must be a number in \[0, 255\]/],
      [{ mean: [1, 2, 3] }, /"mean" and "std" go together/],
      [{ mean: [1, 2], std: [1, 1] }, /"mean" must hold 3 numbers/],
      [{ mean: [1, 2, 3], std: [1, 0, 1] }, /"std" must hold 3 positive numbers/],
      [{ resample: 'nearest' }, /"resample" must be bilinear-darknet, cubic, bilinear-tf/],
      [{ preprocess: 'pad-square', resample: 'bilinear-darknet' }, /bilinear-darknet applies to letterbox and resize/],
      [{ thresh: 2 }, /"thresh" must be a number in \[0, 1\]/],
      [{ class_scores: false, names: ['a', 'b'] }, /needs a yolov2 model with exactly one class name/],
      [{ source: 'elsewhere' }, /"source" must be one of darknet, pinhole-train, face-api/],
    ];
    for (const [patch, msg] of bad) expect(() => validateManifest({ ...base, ...patch })).toThrow(msg);
  });
});

describe('pad-square geometry', () => {
  it('pads to the long side, after the image (top-left) or split with the larger half after (center)', () => {
    expect(squarePad(720, 528)).toEqual({ side: 720, left: 0, top: 0, right: 0, bottom: 192 });
    expect(squarePad(300, 500, 'top-left')).toEqual({ side: 500, left: 0, top: 0, right: 200, bottom: 0 });
    expect(squarePad(300, 501, 'center')).toEqual({ side: 501, left: 100, top: 0, right: 101, bottom: 0 });
    expect(squarePad(64, 64, 'center')).toEqual({ side: 64, left: 0, top: 0, right: 0, bottom: 0 });
  });

  it('maps network-relative boxes back to the image with the exact fractions', () => {
    const fr = boxFrame('pad-square', { width: 720, height: 528 }, 416, 416);
    // the image's bottom edge sits at 528/720 of the input: a box centred there at y = .5 of the image
    expect((528 / 720 / 2 - fr.offY) / fr.scaleY).toBeCloseTo(0.5, 12);
    const c = boxFrame('pad-square', { width: 300, height: 500 }, 160, 160, 'center');
    expect(c.offX).toBeCloseTo(100 / 500, 12);
    expect(c.scaleX).toBeCloseTo(300 / 500, 12);
    expect(c.invScaleY).toBe(1);
  });
});

describe('bilinear-tf resampling', () => {
  it('equals tf.image.resizeBilinear (align_corners=false, half_pixel_centers=false) on a padded canvas, down and up', async () => {
    const require = createRequire(import.meta.url);
    const tf = require('@tensorflow/tfjs') as typeof tfTypes;
    require('@tensorflow/tfjs-backend-wasm');
    await tf.setBackend('wasm');
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
    const W = 37, H = 23, CW = 45, CH = 37, L = 3, T = 9;
    const px = rgb(W, H, () => [rnd(), rnd(), rnd()]);
    for (const [ow, oh] of [[16, 16], [29, 13], [80, 64], [45, 37]]) {
      // the reference: the canvas built explicitly (image at (3, 9), pad value 40 around it), then resized by tf
      const canvas = new Float32Array(CW * CH * 3).fill(40);
      for (let y = 0; y < H; y++) for (let x = 0; x < W * 3; x++) canvas[(y + T) * CW * 3 + L * 3 + x] = px[y * W * 3 + x];
      const ref = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(canvas, [1, CH, CW, 3]), [oh, ow], false, false).dataSync());
      // into a larger input at (2, 1), normalised, as a letterbox paste would
      const netW = ow + 3, netH = oh + 2;
      const o = new Float32Array(3 * netW * netH);
      resampleBilinear({ pixels: px, width: W, height: H, channels: 3, canvasW: CW, canvasH: CH, left: L, top: T, padValue: 40 },
        { out: o, netW, netH, dx: 2, dy: 1, outW: ow, outH: oh, mean: [10, 20, 30], std: [2, 4, 8] });
      let d = 0;
      const mean = [10, 20, 30], std = [2, 4, 8];
      for (let c = 0; c < 3; c++) for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
        const got = o[c * netW * netH + (y + 1) * netW + x + 2] * std[c] + mean[c];
        d = Math.max(d, Math.abs(got - ref[(y * ow + x) * 3 + c]));
      }
      const side = `${CW}x${CH}`, out = `${ow}x${oh}`;
      expect(d, `${side} -> ${out}`).toBeLessThan(1e-4);
    }
  });
});

describe('preprocess with the pixel options', () => {
  // 64x32: red above, the lower half of the 64x64 square is padding
  const red = rgb(64, 32, () => [200, 10, 10]);
  const L = (o: Partial<PixelLayout>): PixelLayout => ({ mode: 'pad-square', ...o });
  const at = (d: Float32Array, c: number, x: number, y: number, n = 32) => d[c * n * n + y * n + x];

  it('pad-square + cubic: image over the top half, the pad value (normalised) below, mean/std applied', async () => {
    const p = await preprocess(await png(64, 32, red), spec(32, 32), L({ padValue: 20, mean: [100, 50, 0], std: [2, 4, 8] }));
    expect(p.width).toBe(64);
    expect(at(p.data, 0, 10, 5)).toBeCloseTo((200 - 100) / 2, 4);
    expect(at(p.data, 1, 10, 5)).toBeCloseTo((10 - 50) / 4, 4);
    expect(at(p.data, 2, 31, 0)).toBeCloseTo((10 - 0) / 8, 4);
    for (const y of [18, 25, 31]) expect(at(p.data, 0, 3, y)).toBeCloseTo((20 - 100) / 2, 4);
  });

  it('pad-square center + bilinear-tf: padding split above and below', async () => {
    const p = await preprocess(await png(64, 32, red), spec(32, 32), L({ pad: 'center', resample: 'bilinear-tf' }));
    const v = (y: number) => at(p.data, 0, 7, y);
    expect(v(0)).toBe(0); // black pad, default mean 0 / std 255
    expect(v(6)).toBe(0);
    expect(v(8)).toBe(Math.fround(200 / 255));
    expect(v(23)).toBe(Math.fround(200 / 255));
    expect(v(25)).toBe(0);
  });

  it('letterbox + bilinear-tf keeps darknet\'s .5 canvas and geometry', async () => {
    const p = await preprocess(await png(64, 32, red), spec(32, 32), { mode: 'letterbox', resample: 'bilinear-tf' });
    expect(p.geometry).toMatchObject({ newW: 32, newH: 16, dx: 0, dy: 8 });
    expect(at(p.data, 0, 5, 2)).toBe(0.5);
    expect(at(p.data, 0, 5, 12)).toBe(Math.fround(200 / 255));
  });
});

describe('region output without class entries', () => {
  it('scores the one class by its objectness, boxes as usual; the model\'s thresh is the default', () => {
    // 1 anchor, 5 entries, a 1x2 grid: cell 0 logit 2 (p .881), cell 1 logit -1 (p .269)
    const out = Float32Array.from([0, 0, 0, 0, 0, 0, 0, 0, 2, -1]);
    const [c] = decodeRegion(out, [1, 5, 1, 2], { num: 1, anchors: [1, 1], classes: 1, softmax: false, classScores: false },
      [boxFrame('resize', { width: 10, height: 10 }, 2, 1)], 0.25);
    expect(c.count).toBe(2);
    expect(c.prob[0]).toBeCloseTo(1 / (1 + Math.exp(-2)), 6);
    expect(Array.from(c.box.subarray(0, 4))).toEqual([0.25, 0.5, 0.5, 1].map(Math.fround));
    expect(() => decodeRegion(out, [1, 6, 1, 2], { num: 1, anchors: [1, 1], classes: 1, softmax: false, classScores: false }, [boxFrame('resize', { width: 10, height: 10 }, 2, 1)], 0.25)).toThrow(/num\*5/);
    const model = { ...base, input: { width: 2, height: 1 }, preprocess: 'resize' as const, class_scores: false, thresh: 0.5 };
    expect(resolveParams({ ...model, kind: 'yolov2' }).thresh).toBe(0.5);
    const [dets] = postprocess('yolov2', model, out, [1, 5, 1, 2], [{ width: 10, height: 10 }]);
    expect(dets.map((d) => d.class)).toEqual(['face']);
    expect(postprocess('yolov2', model, out, [1, 5, 1, 2], [{ width: 10, height: 10 }], { thresh: 0.2 })[0]).toHaveLength(2);
  });
});
