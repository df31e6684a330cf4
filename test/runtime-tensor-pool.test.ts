// Detection input tensors are recycled through the workers (src/runtime/tensor-pool.ts): a stream of frames
// reuses a few buffers instead of allocating ~1 MB per frame. A recycled buffer still holds its last frame,
// so every answer must be the one a fresh buffer gives, whatever ran in that buffer before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Runtime } from '../src/runtime/index.ts';
import type { RuntimeLogger } from '../src/runtime/index.ts';
import { preprocess, type PixelLayout } from '../src/runtime/preprocess.ts';
import { TensorPool } from '../src/runtime/tensor-pool.ts';
import { writeTinyModel } from './runtime-fixtures.ts';

const quiet: RuntimeLogger = { info() {}, warn() {}, error() {} };
let root: string;

/** A w x h PNG of a seeded pattern, so that boxes depend on the pixels. */
function picture(w: number, h: number, seed: number): Promise<Buffer> {
  const px = Buffer.alloc(w * h * 3);
  for (let i = 0; i < px.length; i++) px[i] = (i * seed + (i >> 7)) % 251;
  return sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'pinhole-tensor-pool-'));
  writeTinyModel(root, 'a');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('TensorPool', () => {
  it('hands a given buffer out again for the same length only, and makes new ones when none is free', () => {
    const pool = new TensorPool(2, 2);
    const a = pool.take(12);
    expect(a.length).toBe(12);
    pool.give(a);
    expect(pool.take(8)).not.toBe(a);
    expect(pool.take(12)).toBe(a);
    expect(pool.take(12)).not.toBe(a);
    expect(pool.counts).toEqual({ created: 3, reused: 1 });
  });

  it('keeps at most `keep` buffers per length and `lengths` lengths (least recently given dropped)', () => {
    const pool = new TensorPool(2, 2);
    const three = [new Float32Array(4), new Float32Array(4), new Float32Array(4)];
    for (const t of three) pool.give(t);
    expect([pool.take(4), pool.take(4)]).toEqual([three[1], three[0]]);
    expect(pool.counts.created).toBe(0);
    pool.take(4);
    expect(pool.counts.created).toBe(1);
    pool.give(new Float32Array(1));
    pool.give(new Float32Array(2));
    pool.give(new Float32Array(3)); // evicts length 1
    pool.take(1);
    pool.take(2);
    expect(pool.counts).toEqual({ created: 2, reused: 3 });
  });

  it('drops detached buffers and views into larger ones', () => {
    const pool = new TensorPool();
    const detached = new Float32Array(4);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    pool.give(detached);
    pool.give(new Float32Array(new ArrayBuffer(64), 16, 4));
    pool.take(4);
    expect(pool.counts).toEqual({ created: 1, reused: 0 });
  });
});

describe('runtime: recycled input tensors', () => {
  it('every answer is the one of a fresh tensor, across letterbox shapes that leave different padding', async () => {
    // wide (padded above and below), tall (padded left and right), square (no padding), then wide again
    const images = [await picture(96, 40, 7), await picture(30, 90, 13), await picture(64, 64, 3), await picture(96, 40, 5)];
    const rt = await Runtime.create({ modelsDir: root, log: quiet });
    try {
      const plan = rt.resolveDetect('a', { thresh: 0.01 });
      const recycled = [];
      for (let round = 0; round < 3; round++) for (const im of images) recycled.push(JSON.stringify((await rt.runDetect(plan, im)).detections));
      const counts = rt.tensorBuffers;
      // one request at a time: after the first, every frame reuses the buffer the previous one gave back
      expect(counts.reused).toBeGreaterThanOrEqual(recycled.length - 2);
      expect(counts.created).toBeLessThanOrEqual(2);
      // each image on a runtime of its own, whose first request gets a newly made (zeroed) tensor
      const answers = new Map<Buffer, string>();
      for (const im of images) {
        const fresh = await Runtime.create({ modelsDir: root, log: quiet });
        try {
          answers.set(im, JSON.stringify((await fresh.detect('a', im, { thresh: 0.01 })).detections));
        } finally {
          await fresh.close();
        }
      }
      expect(recycled).toEqual([0, 1, 2].flatMap(() => images.map((im) => answers.get(im))));
      expect(new Set(answers.values()).size).toBeGreaterThan(1);
    } finally {
      await rt.close();
    }
  });

  it('batched jobs give their tensors back too, and each keeps its own answer', async () => {
    const images = [await picture(96, 40, 7), await picture(30, 90, 13), await picture(64, 64, 3), await picture(96, 40, 5)];
    const sizes: number[] = [];
    const rt = await Runtime.create({ modelsDir: root, log: quiet, maxBatch: 4, batchDelayMs: 20, observer: { onBatch: (e) => sizes.push(e.size) } });
    try {
      const alone = [];
      for (const im of images) alone.push(JSON.stringify((await rt.detect('a', im, { thresh: 0.01 })).detections));
      const before = rt.tensorBuffers;
      for (let round = 0; round < 3; round++) {
        const together = await Promise.all(images.map((im) => rt.detect('a', im, { thresh: 0.01 })));
        expect(together.map((r) => JSON.stringify(r.detections))).toEqual(alone);
      }
      const after = rt.tensorBuffers;
      expect(Math.max(...sizes)).toBeGreaterThan(1);
      // 12 batched jobs: at most one batch's worth of new buffers, the rest came back from the worker
      expect(after.created - before.created).toBeLessThanOrEqual(images.length);
      expect(after.reused - before.reused).toBeGreaterThanOrEqual(12 - images.length);
    } finally {
      await rt.close();
    }
  });

  it('preprocess writes every value of the buffer it is given, in every pixel layout', async () => {
    const spec = { width: 64, height: 64, channels: 3, layout: 'NCHW' as const };
    const layouts: PixelLayout[] = [
      { mode: 'letterbox' }, { mode: 'resize' }, { mode: 'letterbox', resample: 'bilinear-tf' },
      { mode: 'pad-square', padValue: 0, mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] },
    ];
    for (const layout of layouts) {
      for (const [w, h] of [[96, 40], [30, 90], [64, 64]]) {
        const im = await picture(w, h, 11);
        const clean = await preprocess(im, spec, layout);
        const dirty = await preprocess(im, spec, layout, { alloc: (n) => new Float32Array(n).fill(Number.NaN) });
        expect(Array.from(dirty.data), `${layout.mode} ${layout.resample ?? ''} ${w}x${h}`).toEqual(Array.from(clean.data));
      }
    }
  });
});
