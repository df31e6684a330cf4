// Batch building for YOLO9000 joint training: classification images can be placed at their own scale
// (--cls-scale) while detection images keep the detection augmentation.
import { describe, expect, it } from 'vitest';
import { DEFAULT_AUGMENT } from '../src/train/engine/augment.ts';
import { makeBatch, openSources, type SourceConfig } from '../src/train/engine/batches.ts';

const S = 64;
const base: SourceConfig = { det: 'synth9k:1:4:96', cls: 'synthcls:2:4:96', mode: 'letterbox', seed: 5, augment: { ...DEFAULT_AUGMENT, jitter: 0.05, hue: 0, saturation: 1, exposure: 1 } }; // no colour distortion: the canvas stays grey
const request = { id: 0, size: S, epoch: 0, step: 3, items: [{ src: 'det' as const, index: 1 }, { src: 'cls' as const, index: 2 }, { src: 'cls' as const, index: 3 }] };

/** pixels of image k that are exactly the letterbox canvas grey (outside the placed image) */
function canvasShare(pixels: Float32Array, k: number): number {
  let n = 0;
  for (let i = k * S * S * 3; i < (k + 1) * S * S * 3; i += 3) if (pixels[i] === 0.5 && pixels[i + 1] === 0.5 && pixels[i + 2] === 0.5) n++;
  return n / (S * S);
}

describe('joint-training batches', () => {
  it('places classification images at --cls-scale and leaves detection images as they were', async () => {
    const src = await openSources(base);
    const plain = await makeBatch(src, base, request);
    const small = await makeBatch(src, { ...base, clsScale: [0.3, 0.4] }, request);
    const det = S * S * 3;
    expect(Array.from(small.pixels.subarray(0, det))).toEqual(Array.from(plain.pixels.subarray(0, det)));
    expect(small.targets[0]).toEqual(plain.targets[0]);
    for (const k of [1, 2]) {
      expect(small.targets[k]).toEqual(plain.targets[k]);
      // at a scale of .3-.4 the image covers at most 16% of the input: the rest is canvas
      expect(canvasShare(small.pixels, k)).toBeGreaterThan(0.8);
      expect(canvasShare(plain.pixels, k)).toBeLessThan(0.5);
    }
  });
});
