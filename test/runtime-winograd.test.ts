// The Winograd pass in the runtime: darknet's yolov2-tiny-voc (seeded random weights) served with the pass
// (the default) and without it gives the same boxes on dog.jpg; the model's info says how many convolutions
// run as Winograd; the ORT optimized-graph cache keeps the two apart and remembers the rewrite.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDarknet } from '../src/onnx/darknet/folder.ts';
import { cacheEntry } from '../src/runtime/ort-cache.ts';
import { passKey, winogradApplies } from '../src/runtime/graph-pass.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import type { Detection } from '../src/vision/types.ts';
import { darknetAvailable, darknetCfg, darknetData, oracleWeights } from './helpers/oracle.ts';

const quiet = { info() {}, warn() {}, error() {} };
let root: string;

const have = darknetAvailable();
describe.skipIf(!have)('runtime: Winograd on and off serve the same boxes (darknet yolov2-tiny-voc, random weights)', () => {
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'pinhole-wino-'));
    const weights = await oracleWeights(darknetCfg('yolov2-tiny-voc'), { seed: 1 });
    await importDarknet({ cfg: darknetCfg('yolov2-tiny-voc'), weights, out: join(root, 'models', 'tiny'), names: darknetData('voc.names') });
  }, 300_000);
  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /** The files of `dir` this process has mapped into memory (Linux; the worker threads share the process's maps). */
  const mapped = (dir: string) => [...new Set(readFileSync('/proc/self/maps', 'utf8').split('\n')
    .map((l) => l.split(/\s+/).slice(5).join(' ')).filter((f) => f.startsWith(`${dir}/`)))];

  async function serve(winograd: boolean | undefined, cache?: string, workers = 1): Promise<{ winograd?: number; detections: Detection[]; mapped: string[] }> {
    const rt = await Runtime.create({
      modelsDir: join(root, 'models'), maxBatch: 1, warmup: false, log: quiet, winograd, workers, intraOpThreads: workers === 1 ? 2 : 1,
      ortCache: cache ? { dir: cache } : undefined,
    });
    try {
      const info = rt.models()[0];
      expect(info.status).toBe('ready');
      const r = await rt.detect('tiny', readFileSync(darknetData('dog.jpg')), { thresh: 0.25 });
      return { winograd: info.winograd, detections: r.detections, mapped: cache ? mapped(cache) : [] };
    } finally {
      await rt.close();
    }
  }

  it('same detections, the info says which way it ran, and the cache remembers the rewrite', async () => {
    const cache = join(root, 'ort-cache');
    const off = await serve(false);
    const on = await serve(undefined, cache);
    const again = await serve(undefined, cache); // from the cached optimized graph
    // two workers, uncached: each rewrites the model, and worker 0 also makes a solo session (2 threads) from it
    const two = await serve(undefined, undefined, 2);
    expect(off.winograd).toBe(0);
    // 64->128 at 52x52, 128->256 at 26x26, 512->1024 and 1024->1024 at 13x13 (DEFAULT_RULE)
    expect(on.winograd).toBe(4);
    expect(again.winograd).toBe(4);
    expect(two.winograd).toBe(4);
    // the pass's temporary model files (graph-pass.ts) are gone once the model is loaded
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith(`pinhole-winograd-${process.pid}-`))).toEqual([]);
    expect(readdirSync(cache).filter((f) => f.endsWith('.onnx'))).toHaveLength(1);
    // the cached graph's weights are a file of their own, which ORT maps instead of copying (a start from
    // the cache: ort-cache.ts); the session that wrote them used its own copy
    const weights = readdirSync(cache).filter((f) => f.endsWith('.data'));
    expect(weights).toHaveLength(1);
    expect(statSync(join(cache, weights[0])).size).toBeGreaterThan(100e6);
    expect(on.mapped).toEqual([]);
    expect(again.mapped).toEqual([join(cache, weights[0])]);
    expect(off.detections.length).toBeGreaterThan(3); // random weights still give boxes at this threshold
    for (const other of [on, again, two]) {
      expect(other.detections.length).toBe(off.detections.length);
      other.detections.forEach((d, i) => {
        const o = off.detections[i];
        expect(d.class_id).toBe(o.class_id);
        expect(Math.abs(d.score - o.score)).toBeLessThan(1e-4);
        for (const k of ['x1', 'y1', 'x2', 'y2'] as const) expect(Math.abs(d.box[k] - o.box[k])).toBeLessThan(0.05);
      });
    }
  }, 300_000);
});

describe('the pass and the ORT cache key', () => {
  it('applies to CPU float32 models only', () => {
    expect(winogradApplies(true, ['cpu'], {})).toBe(true);
    expect(winogradApplies(true, ['cpu'], { precision: 'fp32' })).toBe(true);
    expect(winogradApplies(true, ['cpu'], { precision: 'int8' })).toBe(false);
    expect(winogradApplies(true, ['cuda', 'cpu'], {})).toBe(false);
    expect(winogradApplies(false, ['cpu'], {})).toBe(false);
  });

  it('the cached graph of a rewritten model has another key, naming the pass version', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinhole-wino-key-'));
    try {
      const file = join(dir, 'model.onnx');
      writeFileSync(file, new Uint8Array(64));
      const o = { dir, minBytes: 1 };
      const on = cacheEntry(file, `1.30 quantized=false ${passKey(true)}`, o);
      const off = cacheEntry(file, `1.30 quantized=false ${passKey(false)}`, o);
      expect(on && off).toBeTruthy();
      expect(on!.path).not.toBe(off!.path);
      expect(passKey(true)).toMatch(/^winograd=v\d+\//);
      expect(passKey(false)).toBe('winograd=off');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
