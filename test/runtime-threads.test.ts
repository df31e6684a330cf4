// The thread budget that fits the load (issue 20): one worker with every core by default; with several
// workers a lone request runs on worker 0's solo session with every core and nothing beside it, concurrent
// requests on the workers' own sessions; CPU does not
// batch unless asked; the decode ignores embedded ICC profiles as darknet's stb_image does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import { Runtime, threadPlan } from '../src/runtime/index.ts';
import type { BatchEvent, DetectionResponse, RuntimeLogger } from '../src/runtime/index.ts';
import { preprocess } from '../src/runtime/preprocess.ts';
import { Lanes } from '../src/runtime/lanes.ts';
import { writeTinyModel } from './runtime-fixtures.ts';

const quiet: RuntimeLogger = { info() {}, warn() {}, error() {} };
let root: string;
let image: Buffer;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pinhole-threads-'));
  writeTinyModel(root, 'a');
  // a gradient, so that boxes depend on the pixels
  const px = Buffer.alloc(96 * 72 * 3);
  for (let i = 0; i < px.length; i++) px[i] = (i * 7) % 251;
  image = await sharp(px, { raw: { width: 96, height: 72, channels: 3 } }).png().toBuffer();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const summary = (r: DetectionResponse) => JSON.stringify(r.detections);

describe('thread plan', () => {
  it('one worker with every core by default; with several workers, a solo session with every core', () => {
    const cores = availableParallelism();
    expect(threadPlan()).toEqual({ workers: 1, intraOpThreads: cores, soloThreads: 0 });
    expect(threadPlan(2, 1, 2)).toEqual({ workers: 2, intraOpThreads: 1, soloThreads: 2 });
    expect(threadPlan(1, 2)).toEqual({ workers: 1, intraOpThreads: 2, soloThreads: 0 });
    expect(threadPlan(2, 1, 0).soloThreads).toBe(0);
    if (cores > 1) expect(threadPlan(cores)).toEqual({ workers: cores, intraOpThreads: 1, soloThreads: cores });
  });

  it('a worker per core by default when every model is int8; asked figures still win', () => {
    const cores = availableParallelism();
    expect(threadPlan(undefined, undefined, undefined, true)).toEqual(
      cores > 1 ? { workers: cores, intraOpThreads: 1, soloThreads: cores } : { workers: 1, intraOpThreads: 1, soloThreads: 0 });
    expect(threadPlan(1, undefined, undefined, true)).toEqual({ workers: 1, intraOpThreads: cores, soloThreads: 0 });
    expect(threadPlan(undefined, cores, undefined, true)).toEqual({ workers: 1, intraOpThreads: cores, soloThreads: 0 });
  });

  it('the runtime reads each folder\'s precision before it starts the workers', async () => {
    const cores = availableParallelism();
    const shipped = join(import.meta.dirname, '..', 'models');
    const int8 = await Runtime.create({ modelsDir: shipped, only: ['yolov1-synth-int8', 'yolov2-synth-int8'], log: quiet });
    try {
      expect(int8.threads.workers).toBe(cores);
    } finally {
      await int8.close();
    }
    // one float folder among them keeps the single worker (its weights would be copied per worker)
    const mixed = await Runtime.create({ modelsDir: shipped, only: ['yolov2-synth', 'yolov2-synth-int8'], log: quiet });
    try {
      expect(mixed.threads.workers).toBe(1);
    } finally {
      await mixed.close();
    }
    const cuda = await Runtime.create({ modelsDir: shipped, only: ['yolov2-synth-int8'], eps: ['cuda', 'cpu'], log: quiet });
    try {
      expect(cuda.threads.workers).toBe(1);
    } finally {
      await cuda.close();
    }
  });
});

describe('solo session', () => {
  it('a lone request runs solo with the same answer as concurrent ones, which run on the workers', async () => {
    const batches: BatchEvent[] = [];
    const rt = await Runtime.create({
      modelsDir: root, workers: 2, intraOpThreads: 1, soloThreads: 2, log: quiet,
      observer: { onBatch: (e) => batches.push(e) },
    });
    try {
      expect(rt.threads).toEqual({ workers: 2, intraOpThreads: 1, soloThreads: 2 });
      // CPU: batches of up to 4, formed only from requests that were queued anyway
      expect(rt.model('a')?.maxBatch).toBe(4);
      const alone = await rt.detect('a', image, { thresh: 0.01 });
      expect(batches.at(-1)).toMatchObject({ size: 1, solo: true });
      expect(alone.detections.length).toBeGreaterThan(0);
      batches.length = 0;
      const many = await Promise.all(Array.from({ length: 12 }, () => rt.detect('a', image, { thresh: 0.01 })));
      for (const r of many) expect(summary(r)).toBe(summary(alone));
      expect(batches.reduce((n, b) => n + b.size, 0)).toBe(12);
      // the first decode to finish may find the workers idle and run solo; the rest share the workers
      expect(batches.filter((b) => !b.solo).length).toBeGreaterThan(0);
    } finally {
      await rt.close();
    }
  });

  it('soloThreads 0: every request runs on the workers', async () => {
    const batches: BatchEvent[] = [];
    const rt = await Runtime.create({ modelsDir: root, workers: 2, intraOpThreads: 1, soloThreads: 0, log: quiet, observer: { onBatch: (e) => batches.push(e) } });
    try {
      await rt.detect('a', image, { thresh: 0.01 });
      expect(batches.at(-1)?.solo).toBe(false);
    } finally {
      await rt.close();
    }
  });
});

describe('decode', () => {
  it('ignores an embedded ICC profile: the tensor holds the stored pixels, as darknet reads them', async () => {
    const px = Buffer.alloc(32 * 32 * 3);
    for (let i = 0; i < px.length; i++) px[i] = (i * 13) % 256;
    // stored with a Display P3 profile: an ICC-aware decoder would convert the pixels to sRGB
    const tagged = await sharp(px, { raw: { width: 32, height: 32, channels: 3 } }).withIccProfile('p3').png().toBuffer();
    const stored = await sharp(tagged, { ignoreIcc: true }).raw().toBuffer();
    const converted = await sharp(tagged).toColourspace('srgb').raw().toBuffer();
    expect(stored.equals(converted)).toBe(false);
    const pre = await preprocess(tagged, { width: 32, height: 32, channels: 3, layout: 'NCHW' }, 'resize');
    const plane = 32 * 32;
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) expect(pre.data[c * plane + i]).toBe(Math.fround(stored[i * 3 + c] / 255));
    }
  });
});

describe('decode lanes', () => {
  it('never run more work at once than lanes, and take it in arrival order', async () => {
    for (const size of [1, 2]) {
      const lanes = new Lanes(size);
      let now = 0, most = 0;
      const started: number[] = [];
      const task = (i: number) => lanes.run(async () => {
        started.push(i);
        most = Math.max(most, ++now);
        await new Promise((r) => setTimeout(r, 5));
        now--;
        return i;
      });
      expect(await Promise.all([0, 1, 2, 3, 4, 5].map(task))).toEqual([0, 1, 2, 3, 4, 5]);
      expect(most).toBe(size);
      expect(started).toEqual([0, 1, 2, 3, 4, 5]);
      expect(lanes.queued).toBe(0);
    }
    // a failing task frees its lane
    const one = new Lanes(1);
    await expect(one.run(async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(await one.run(async () => 7)).toBe(7);
    expect(() => new Lanes(0)).toThrow(/lanes/);
  });

  it('the runtime decodes through them (decodeLanes 1 still answers concurrent requests)', async () => {
    await expect(Runtime.create({ modelsDir: root, decodeLanes: 0, log: quiet })).rejects.toThrow(/decodeLanes/);
    const rt = await Runtime.create({ modelsDir: root, decodeLanes: 1, log: quiet });
    try {
      const rs = await Promise.all(Array.from({ length: 6 }, () => rt.detect('a', image, { thresh: 0.01 })));
      expect(new Set(rs.map(summary)).size).toBe(1);
    } finally {
      await rt.close();
    }
  });
});
