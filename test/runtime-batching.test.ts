import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Runtime, runCeiling } from '../src/runtime/index.ts';
import type { BatchEvent, RawTensor, RuntimeLogger } from '../src/runtime/index.ts';
import { PinholeError } from '../src/errors.ts';
import { writeTinyModel } from './runtime-fixtures.ts';

const quiet: RuntimeLogger = { info() {}, warn() {}, error() {} };

let root: string;
let image: Buffer;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pinhole-batch-'));
  writeTinyModel(root, 'a');
  writeTinyModel(root, 'b', { seed: 3 });
  image = await sharp({ create: { width: 80, height: 64, channels: 3, background: { r: 120, g: 40, b: 220 } } }).jpeg().toBuffer();
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

function events() {
  const batches: BatchEvent[] = [];
  const depth: Array<[string, number]> = [];
  return { batches, depth, observer: { onBatch: (e: BatchEvent) => batches.push(e), onQueueDepth: (m: string, d: number) => depth.push([m, d]) } };
}

async function settle<T>(p: Promise<T>): Promise<T | PinholeError> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof PinholeError) return e;
    throw e;
  }
}

const input = (v: number): Record<string, RawTensor> => ({ image: { type: 'float32', dims: [1, 3, 64, 64], data: new Float32Array(3 * 64 * 64).fill(v) } });

describe('dynamic batcher', () => {
  it('batches concurrent requests (batch events with size > 1) and answers each with its own result', async () => {
    const ev = events();
    // a long delay: batches leave only when full, so 8 concurrent requests make two batches of 4
    const rt = await Runtime.create({ modelsDir: root, maxBatch: 4, batchDelayMs: 60_000, log: quiet, observer: ev.observer });
    try {
      ev.batches.length = 0;
      const rs = await Promise.all(Array.from({ length: 8 }, () => rt.detect('a', image, { thresh: 0.05 })));
      expect(ev.batches.map((b) => b.size)).toEqual([4, 4]);
      expect(ev.batches.every((b) => b.model === 'a' && b.queueSeconds.length === b.size && b.inferSeconds > 0)).toBe(true);
      // same image: every request gets the same detections as a lone request would
      const single = await Runtime.create({ modelsDir: root, maxBatch: 1, log: quiet });
      try {
        const alone = await single.detect('a', image, { thresh: 0.05 });
        expect(alone.detections.length).toBeGreaterThan(0);
        for (const r of rs) {
          expect(r.detections.length).toBe(alone.detections.length);
          r.detections.forEach((d, i) => {
            expect(d.class_id).toBe(alone.detections[i].class_id);
            expect(d.score).toBeCloseTo(alone.detections[i].score, 5);
            expect(d.box.x1).toBeCloseTo(alone.detections[i].box.x1, 3);
          });
        }
      } finally {
        await single.close();
      }
      // queue depth was reported going up and back to 0
      const da = ev.depth.filter(([m]) => m === 'a').map(([, d]) => d);
      expect(Math.max(...da)).toBeGreaterThanOrEqual(1);
      expect(da[da.length - 1]).toBe(0);
    } finally {
      await rt.close();
    }
  });

  it('requests with different parameters share a batch and keep their own parameters', async () => {
    const ev = events();
    const rt = await Runtime.create({ modelsDir: root, maxBatch: 3, batchDelayMs: 60_000, log: quiet, observer: ev.observer });
    try {
      ev.batches.length = 0;
      const [lo, one, hi] = await Promise.all([
        rt.detect('a', image, { thresh: 0.01 }),
        rt.detect('a', image, { thresh: 0.01, maxDet: 1 }),
        rt.detect('a', image, { thresh: 1 }),
      ]);
      expect(ev.batches.map((b) => b.size)).toEqual([3]);
      expect(lo.detections.length).toBeGreaterThan(1);
      expect(one.detections).toEqual(lo.detections.slice(0, 1));
      expect(hi.detections).toEqual([]);
    } finally {
      await rt.close();
    }
  });

  it('a request whose deadline passes in the queue times out without running', async () => {
    const ev = events();
    // maxBatch 4 and an endless delay: a lone request waits for company, past its deadline
    const rt = await Runtime.create({ modelsDir: root, maxBatch: 4, batchDelayMs: 60_000, log: quiet, observer: ev.observer });
    try {
      ev.batches.length = 0;
      const r = await settle(rt.detect('a', image, {}, { deadlineMs: Date.now() + 150 }));
      expect(r).toBeInstanceOf(PinholeError);
      expect((r as PinholeError).code).toBe('timeout');
      expect((r as PinholeError).status).toBe(503);
      expect(ev.batches).toEqual([]);
      const past = await settle(rt.detect('a', image, {}, { deadlineMs: Date.now() - 1 }));
      expect((past as PinholeError).code).toBe('timeout');
      expect(ev.depth.filter(([m]) => m === 'a').at(-1)?.[1]).toBe(0);
    } finally {
      await rt.close();
    }
    expect(ev.batches).toEqual([]);
  });

  it('a full queue answers overloaded with Retry-After; close() still finishes what was accepted', async () => {
    const ev = events();
    const rt = await Runtime.create({ modelsDir: root, maxBatch: 8, batchDelayMs: 60_000, queueLimit: 3, log: quiet, observer: ev.observer });
    ev.batches.length = 0;
    const accepted = [0, 1, 2].map(() => settle(rt.detect('a', image)));
    const rejected = await settle(rt.detect('a', image));
    expect(rejected).toBeInstanceOf(PinholeError);
    expect((rejected as PinholeError).code).toBe('overloaded');
    expect((rejected as PinholeError).status).toBe(503);
    expect((rejected as PinholeError).retryAfter).toBeGreaterThanOrEqual(1);
    // the other model has its own queue
    const other = await settle(rt.infer('b', input(0.5)));
    expect(other).not.toBeInstanceOf(PinholeError);
    // graceful close: the three queued requests run (flushed without waiting for a full batch)
    await rt.close();
    const done = await Promise.all(accepted);
    for (const r of done) {
      expect(r).not.toBeInstanceOf(PinholeError);
      expect((r as { model: string }).model).toBe('a');
    }
    // (in one batch or several, depending on whether their decoding ended before close() began)
    expect(ev.batches.filter((b) => b.model === 'a').reduce((n, b) => n + b.size, 0)).toBe(3);
    // closed: refuses new work
    const after = await settle(rt.detect('a', image));
    expect((after as PinholeError).code).toBe('model_not_ready');
  });

  it('failed requests give their queue slot back: bad images never fill the queue', async () => {
    const rt = await Runtime.create({ modelsDir: root, queueLimit: 2, maxBatch: 2, batchDelayMs: 0, log: quiet });
    try {
      const bad = [Buffer.alloc(0), Buffer.from('garbage'), image.subarray(0, image.length >> 1)];
      for (let round = 0; round < 10; round++) {
        const rs = await Promise.all(bad.map((b) => settle(rt.detect('a', b))));
        // two decode at once (queueLimit 2), the third may find the queue full meanwhile
        const codes = rs.map((r) => (r as PinholeError).code);
        expect(codes.slice(0, 2)).toEqual(['bad_image', 'bad_image']);
        expect(['bad_image', 'overloaded']).toContain(codes[2]);
      }
      expect(rt.stats().a).toEqual({ versions: 1, queued: 0, running: 0 });
      const ok = await Promise.all([rt.detect('a', image), rt.detect('a', image)]);
      expect(ok).toHaveLength(2);
    } finally {
      await rt.close();
    }
  });

  it('CPU defaults: a lone request runs at once (no batch delay); requests queued behind a running batch go together, up to 4', async () => {
    const ev = events();
    // no batchDelayMs asked: the runtime's default (2 ms) is an accelerator's; a CPU model has none
    const rt = await Runtime.create({ modelsDir: root, workers: 1, log: quiet, observer: ev.observer });
    try {
      expect(rt.model('a')).toMatchObject({ ep: 'cpu', maxBatch: 4 });
      ev.batches.length = 0;
      await rt.detect('a', image, { thresh: 0.05 });
      expect(ev.batches.map((b) => b.size)).toEqual([1]);
      ev.batches.length = 0;
      await Promise.all(Array.from({ length: 9 }, () => rt.detect('a', image, { thresh: 0.05 })));
      const sizes = ev.batches.map((b) => b.size);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(9);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(4);
      expect(sizes.some((n) => n > 1)).toBe(true);
    } finally {
      await rt.close();
    }
    // an int8 folder (precision in model.json) runs alone on CPU: its kernels gain nothing from a batch
    const q = mkdtempSync(join(tmpdir(), 'pinhole-batch-int8-'));
    try {
      writeTinyModel(q, 'q', { manifest: { precision: 'int8' } });
      const rq = await Runtime.create({ modelsDir: q, log: quiet });
      try {
        expect(rq.model('q')).toMatchObject({ ep: 'cpu', maxBatch: 1 });
      } finally {
        await rq.close();
      }
    } finally {
      rmSync(q, { recursive: true, force: true });
    }
  });

  it('close() finishes in-flight requests before releasing the sessions', async () => {
    const rt = await Runtime.create({ modelsDir: root, maxBatch: 2, batchDelayMs: 0, log: quiet });
    const pending = Array.from({ length: 12 }, (_, i) => settle<unknown>(i % 2 ? rt.detect('a', image) : rt.infer('b', input(i / 12))));
    await rt.close();
    const res = await Promise.all(pending);
    expect(res.filter((r) => r instanceof PinholeError)).toEqual([]);
  });

  it('FIFO within a model, and a lone request on another model is not starved by a flood', async () => {
    const rt = await Runtime.create({ modelsDir: root, workers: 1, maxBatch: 4, batchDelayMs: 0, log: quiet });
    try {
      const order: string[] = [];
      const track = (tag: string, p: Promise<unknown>) => p.then(() => order.push(tag));
      const all: Array<Promise<unknown>> = [];
      for (let i = 0; i < 8; i++) all.push(track(`a${i}`, rt.infer('a', input(i))));
      all.push(track('b', rt.infer('b', input(1))));
      for (let i = 8; i < 16; i++) all.push(track(`a${i}`, rt.infer('a', input(i))));
      await Promise.all(all);
      const aOrder = order.filter((t) => t.startsWith('a')).map((t) => Number(t.slice(1)));
      expect(aOrder).toEqual(Array.from({ length: 16 }, (_, i) => i));
      // b entered the queue before a8..a15: it is served before all of them
      expect(order.indexOf('b')).toBe(8);
    } finally {
      await rt.close();
    }
  });
});

describe('ceiling pipeline (bench)', () => {
  it('runs decode + ORT at a fixed batch + NMS in-process and reports throughput', async () => {
    const c = await runCeiling({ modelDir: join(root, 'a'), images: [image], batch: 2, durationMs: 300, params: { thresh: 0.05 } });
    expect(c).toMatchObject({ model: 'a', ep: 'cpu', batch: 2 });
    expect(c.images).toBeGreaterThan(0);
    expect(c.images % 2).toBe(0);
    expect(c.imagesPerSec).toBeGreaterThan(0);
    expect(c.detectionsPerImage).toBeGreaterThan(0);
    await expect(runCeiling({ modelDir: join(root, 'a'), images: [], batch: 1 })).rejects.toThrow(/no images/);
  });
});
