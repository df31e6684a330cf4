import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Runtime } from '../src/runtime/index.ts';
import type { DetectionResponse, ModelInfo, RuntimeLogger } from '../src/runtime/index.ts';
import { PinholeError } from '../src/errors.ts';
import { tinyRegionNet, writeTinyModel } from './runtime-fixtures.ts';

const quiet: RuntimeLogger = { info() {}, warn() {}, error() {} };
const summary = (r: DetectionResponse) => r.detections.map((d) => `${d.class_id}:${d.score.toFixed(5)}:${d.box.x1.toFixed(2)}`).join(' ');

let root: string;
let image: Buffer;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pinhole-reload-'));
  image = await sharp({ create: { width: 70, height: 90, channels: 3, background: { r: 250, g: 180, b: 20 } } }).png().toBuffer();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('model reload', () => {
  it('swaps in a new version without dropping queued requests; the old one is released after', async () => {
    writeTinyModel(root, 'm', { seed: 1 });
    // batches leave only when full (4): a group of 3 stays queued until something flushes it
    const rt = await Runtime.create({ modelsDir: root, maxBatch: 4, batchDelayMs: 60_000, log: quiet });
    const detect4 = async () => {
      const rs = (await Promise.all(Array.from({ length: 4 }, () => rt.detect('m', image, { thresh: 0.01 })))).map(summary);
      expect(new Set(rs).size).toBe(1);
      return rs[0];
    };
    try {
      const before = await detect4();
      expect(before).not.toBe('');
      // accepted before the swap and still waiting in the old version's queue when it happens
      const queued = Array.from({ length: 3 }, () => rt.detect('m', image, { thresh: 0.01 }));
      expect(rt.stats().m.queued).toBe(3);
      writeFileSync(join(root, 'm', 'model.onnx'), tinyRegionNet({ seed: 99 }));
      const info = await rt.reload('m');
      expect(info).toMatchObject({ name: 'm', status: 'ready', ep: 'cpu' });
      expect(info.error).toBeUndefined();
      // the retired version flushes its queue on the old session
      const done = await Promise.all(queued);
      for (const r of done) expect(summary(r)).toBe(before);
      const after = await detect4();
      expect(after).not.toBe(before);
      expect(rt.stats().m).toEqual({ versions: 1, queued: 0, running: 0 });

      // a broken replacement leaves the working version serving, with the reason reported
      writeFileSync(join(root, 'm', 'model.onnx'), 'garbage');
      const bad = await rt.reload('m');
      expect(bad.status).toBe('ready');
      expect(bad.error).toMatch(/^reload failed, previous version still serving: /);
      expect(await detect4()).toBe(after);
      // fixed again: the error clears
      writeFileSync(join(root, 'm', 'model.onnx'), tinyRegionNet({ seed: 1 }));
      const good = await rt.reload('m');
      expect(good.error).toBeUndefined();
      expect(await detect4()).toBe(before);

      // a folder added after start loads on reload; a folder removed unloads
      writeTinyModel(root, 'late', { seed: 4 });
      expect((await rt.reload('late')).status).toBe('ready');
      expect(rt.models().map((x) => x.name)).toContain('late');
      rmSync(join(root, 'late'), { recursive: true });
      await expect(rt.reload('late')).rejects.toBeInstanceOf(PinholeError);
      expect(rt.model('late')).toBeUndefined();
      await expect(rt.reload('../etc')).rejects.toMatchObject({ code: 'unknown_model' });
    } finally {
      await rt.close();
    }
  });

  it('a request resolved once runs on a reloaded model after being resolved again against its manifest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinhole-plan-'));
    writeTinyModel(dir, 'p', { seed: 3, classes: 3 });
    const rt = await Runtime.create({ modelsDir: dir, maxBatch: 2, batchDelayMs: 0, workers: 1, log: quiet });
    try {
      // the door: model, kind and parameters checked once; the plan is what a stream keeps per connection
      const plan = rt.resolveDetect(undefined, { thresh: 0, classes: [2, 2] });
      expect(plan.model).toBe('p');
      expect(plan.params).toMatchObject({ thresh: 0, classes: [2] });
      const r = await rt.runDetect(plan, image);
      expect(r.detections.length).toBeGreaterThan(0);
      expect(r.detections.every((d) => d.class_id === 2)).toBe(true);
      expect(() => rt.resolveDetect('nope', {})).toThrow(/unknown model "nope" \(models: p\)/);
      // the model comes back with 2 classes: class 2 is gone, and the old plan is refused as the new model says
      writeTinyModel(dir, 'p', { seed: 3, classes: 2 });
      expect((await rt.reload('p')).classes).toBe(2);
      await expect(rt.runDetect(plan, image)).rejects.toMatchObject({ code: 'bad_parameter', message: expect.stringMatching(/class id 2/) });
      const again = await rt.runDetect(rt.resolveDetect('p', { thresh: 0 }), image);
      expect(again.detections.every((d) => d.class_id < 2)).toBe(true);
    } finally {
      await rt.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with watch on, a replaced model.onnx is picked up by itself', async () => {
    writeTinyModel(root, 'w', { seed: 2 });
    const statuses: ModelInfo[] = [];
    let changed!: () => void;
    const swapped = new Promise<void>((r) => { changed = r; });
    const rt = await Runtime.create({
      modelsDir: root, watch: true, log: quiet,
      observer: { onModelStatus: (i) => { statuses.push(i); if (i.name === 'w' && i.status === 'ready' && statuses.filter((s) => s.name === 'w' && s.status === 'ready').length === 2) changed(); } },
    });
    try {
      const before = summary(await rt.detect('w', image, { thresh: 0.01 }));
      // atomic replace, the way a deploy should do it
      writeFileSync(join(root, 'w', 'model.onnx.new'), tinyRegionNet({ seed: 77 }));
      renameSync(join(root, 'w', 'model.onnx.new'), join(root, 'w', 'model.onnx'));
      await swapped;
      expect(summary(await rt.detect('w', image, { thresh: 0.01 }))).not.toBe(before);
    } finally {
      await rt.close();
    }
  });
});

describe('worker restart', () => {
  it('a dead inference worker is replaced, its sessions reloaded, and serving goes on', async () => {
    writeTinyModel(root, 'r', { seed: 8 });
    const rt = await Runtime.create({ modelsDir: root, only: ['r'], workers: 1, maxBatch: 1, batchDelayMs: 0, log: quiet });
    try {
      const before = summary(await rt.detect('r', image, { thresh: 0.01 }));
      // reach the pool the way a crash would: end the worker thread under the runtime's feet
      const pool = (rt as unknown as { sessions: { pool: { kill(i: number): Promise<number>; isReady(i: number): boolean } } }).sessions.pool;
      await pool.kill(0);
      expect(pool.isReady(0)).toBe(false);
      // requests arriving meanwhile wait in the queue for the replacement
      const during = rt.detect('r', image, { thresh: 0.01 });
      expect(summary(await during)).toBe(before);
      expect(pool.isReady(0)).toBe(true);
      expect(summary(await rt.detect('r', image, { thresh: 0.01 }))).toBe(before);
    } finally {
      await rt.close();
    }
  });
});
