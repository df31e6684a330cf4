import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Runtime } from '../src/runtime/index.ts';
import type { ModelInfo, RuntimeLogger } from '../src/runtime/index.ts';
import { PinholeError } from '../src/errors.ts';
import { generatorManifest, regionManifest, tinyGeneratorNet, tinyRegionNet, writeModel, writeTinyModel } from './runtime-fixtures.ts';

function capture(): RuntimeLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) };
}

async function errCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (e) {
    return e instanceof PinholeError ? e.code : `plain: ${(e as Error).message}`;
  }
}

describe('model registry: every folder in isolation', () => {
  let root: string;
  let rt: Runtime;
  const log = capture();
  let image: Buffer;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'pinhole-reg-'));
    writeTinyModel(root, 'good');
    writeTinyModel(root, 'good2', { seed: 5, classes: 2, num: 3 });
    writeModel(root, 'badjson', tinyRegionNet(), '{"name": "badjson", ');
    writeModel(root, 'badmanifest', tinyRegionNet(), { ...regionManifest('badmanifest', 64, 3, 2), anchors: [1, 2, 3] });
    writeModel(root, 'noonnx', null, regionManifest('noonnx', 64, 3, 2));
    writeModel(root, 'corrupt', new Uint8Array(4096).map((_, i) => (i * 131) & 0xff), regionManifest('corrupt', 64, 3, 2));
    const full = tinyRegionNet();
    writeModel(root, 'truncated', full.subarray(0, full.length >> 1), regionManifest('truncated', 64, 3, 2));
    // the graph says 2 anchors x (5+3) channels, model.json says 4 classes: caught by the warm-up decode
    writeModel(root, 'mismatch', tinyRegionNet(), regionManifest('mismatch', 64, 4, 2));
    // model.json input size disagrees with the graph's fixed input
    writeModel(root, 'wrongsize', tinyRegionNet(), regionManifest('wrongsize', 32, 3, 2));
    writeModel(root, 'gen', tinyGeneratorNet(), generatorManifest('gen'));
    mkdirSync(join(root, '.hidden'));
    writeFileSync(join(root, 'README.txt'), 'not a model');
    rt = await Runtime.create({ modelsDir: root, eps: 'cpu', log });
    image = await sharp({ create: { width: 90, height: 60, channels: 3, background: { r: 10, g: 200, b: 30 } } }).png().toBuffer();
  });

  afterAll(async () => {
    await rt?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('lists every model folder with its status; broken ones carry a clear error', () => {
    const by = Object.fromEntries(rt.models().map((m) => [m.name, m])) as Record<string, ModelInfo>;
    expect(Object.keys(by).sort()).toEqual(['badjson', 'badmanifest', 'corrupt', 'gen', 'good', 'good2', 'mismatch', 'noonnx', 'truncated', 'wrongsize']);
    expect(by.good).toMatchObject({ status: 'ready', kind: 'yolov2', classes: 3, ep: 'cpu', input: { width: 64, height: 64 } });
    expect(by.good2).toMatchObject({ status: 'ready', classes: 2 });
    expect(by.gen).toMatchObject({ status: 'ready', kind: 'wgan', ep: 'cpu' });
    expect(by.badjson).toMatchObject({ status: 'error' });
    expect(by.badjson.error).toMatch(/model\.json is not valid JSON/);
    expect(by.badmanifest.error).toMatch(/anchors/);
    expect(by.noonnx.error).toMatch(/model\.onnx: not found/);
    expect(by.corrupt.error).toMatch(/protobuf|parse|load/i);
    expect(by.truncated.status).toBe('error');
    expect(by.mismatch.status).toBe('error');
    expect(by.mismatch.error).toMatch(/output has 16 channels, expected/);
    expect(by.wrongsize.error).toMatch(/model\.json input says 3x32x32/);
    // failures are logged too, one line each
    for (const n of ['badjson', 'badmanifest', 'noonnx', 'corrupt', 'truncated', 'mismatch', 'wrongsize']) {
      expect(log.lines.some((l) => l.startsWith(`error model ${n}:`))).toBe(true);
    }
  });

  it('the good models serve; the broken ones answer model_not_ready, unknown names unknown_model', async () => {
    const r = await rt.detect('good', image, { thresh: 0 });
    expect(r.model).toBe('good');
    expect(r.image).toEqual({ width: 90, height: 60 });
    expect(r.detections.length).toBeGreaterThan(0);
    expect(r.detections.every((d) => d.class_id >= 0 && d.class_id < 3 && d.class === `class${d.class_id}`)).toBe(true);
    for (const k of ['decode', 'queue', 'infer', 'post'] as const) expect(r.timing_ms[k]).toBeGreaterThanOrEqual(0);
    const r2 = await rt.detect('good2', image, { thresh: 0 });
    expect(r2.detections.every((d) => d.class_id < 2)).toBe(true);
    expect(await errCode(rt.detect('corrupt', image))).toBe('model_not_ready');
    expect(await errCode(rt.detect('nosuch', image))).toBe('unknown_model');
    expect(rt.defaultModel()?.name).toBe('good');
    expect(rt.defaultModel('yolov1')).toBeUndefined();
    expect(rt.defaultModel('wgan')?.name).toBe('gen');
  });

  it('non-detector models serve raw inference; detect on them is a parameter error', async () => {
    expect(await errCode(rt.detect('gen', image))).toBe('bad_parameter');
    const z = new Float32Array(2 * 8).map((_, i) => (i % 3) - 1);
    const out = await rt.infer('gen', { z: { type: 'float32', dims: [2, 8], data: z } });
    expect(out.image.dims).toEqual([2, 3, 4, 4]);
    const v = out.image.data as Float32Array;
    expect(v.every((x) => x > -1 && x < 1)).toBe(true);
    expect(rt.signature('gen')).toEqual({
      inputs: [{ name: 'z', type: 'float32', shape: [-1, 8] }],
      outputs: [{ name: 'image', type: 'float32', shape: [-1, 3, 4, 4] }],
    });
  });

  it('validates detection parameters before doing any work', async () => {
    expect(await errCode(rt.detect('good', image, { thresh: 1.5 }))).toBe('bad_parameter');
    expect(await errCode(rt.detect('good', image, { nms: -0.1 }))).toBe('bad_parameter');
    expect(await errCode(rt.detect('good', image, { hier: Number.NaN }))).toBe('bad_parameter');
    expect(await errCode(rt.detect('good', image, { treeScores: 'all' as 'top' }))).toBe('bad_parameter');
    expect(await errCode(rt.detect('good', image, { maxDet: 0 }))).toBe('bad_parameter');
    expect(await errCode(rt.detect('good', image, { maxDet: 2.5 }))).toBe('bad_parameter');
    expect(await errCode(rt.detect('good', image, { classes: [3] }))).toBe('bad_parameter');
    expect(await errCode(rt.detect('good', image, { agnostic: 'yes' as unknown as boolean }))).toBe('bad_parameter');
    expect(await errCode(rt.detect('good', Buffer.from('nope')))).toBe('bad_image');
  });

  it('parameters reach the decoder: max_det, classes, thresh', async () => {
    const all = await rt.detect('good', image, { thresh: 0 });
    const two = await rt.detect('good', image, { thresh: 0, maxDet: 2 });
    expect(two.detections).toEqual(all.detections.slice(0, 2));
    const only1 = await rt.detect('good', image, { thresh: 0, classes: [1] });
    expect(only1.detections.length).toBeGreaterThan(0);
    expect(only1.detections.every((d) => d.class_id === 1)).toBe(true);
    const none = await rt.detect('good', image, { thresh: 1 });
    expect(none.detections).toEqual([]);
  });

  it('raw infer (KServe v2) runs the graph and checks tensors', async () => {
    const sig = rt.signature('good')!;
    expect(sig.inputs).toEqual([{ name: 'image', type: 'float32', shape: [-1, 3, 64, 64] }]);
    expect(sig.outputs).toEqual([{ name: 'region', type: 'float32', shape: [-1, 16, 8, 8] }]);
    const out = await rt.infer('good', { image: { type: 'float32', dims: [2, 3, 64, 64], data: new Float32Array(2 * 3 * 64 * 64).fill(0.5) } });
    expect(out.region.dims).toEqual([2, 16, 8, 8]);
    expect(out.region.data).toBeInstanceOf(Float32Array);
    expect(out.region.data.length).toBe(2 * 16 * 64);
    // both images are the same: so are their outputs
    const d = out.region.data as Float32Array;
    expect(Array.from(d.subarray(0, 1024))).toEqual(Array.from(d.subarray(1024)));
    // a view into a bigger buffer is copied, not detached
    const big = new Float32Array(3 * 64 * 64 + 10);
    const view = big.subarray(10);
    await rt.infer('good', { image: { type: 'float32', dims: [1, 3, 64, 64], data: view } });
    expect(big.length).toBe(3 * 64 * 64 + 10);
    expect(await errCode(rt.infer('good', { nope: { type: 'float32', dims: [1], data: new Float32Array(1) } }))).toBe('bad_request');
    expect(await errCode(rt.infer('good', { image: { type: 'float32', dims: [1, 3, 64, 64], data: new Float32Array(5) } }))).toBe('bad_request');
    expect(await errCode(rt.infer('good', { image: { type: 'float32', dims: [1, 3, 32, 32], data: new Float32Array(3 * 32 * 32) } }))).toBe('bad_request');
    expect(await errCode(rt.infer('good', { image: { type: 'int32', dims: [1, 3, 64, 64], data: new Int32Array(3 * 64 * 64) } }))).toBe('bad_request');
  });
});

describe('execution providers', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'pinhole-ep-'));
    writeTinyModel(root, 'm');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('asking for cuda on a machine without it falls back to cpu, and says so', async () => {
    const log = capture();
    const rt = await Runtime.create({ modelsDir: root, eps: 'cuda,cpu', log });
    try {
      expect(rt.model('m')).toMatchObject({ status: 'ready', ep: 'cpu' });
      expect(log.lines.some((l) => /^warn model m: execution provider cuda unavailable \(.+\); falling back/.test(l))).toBe(true);
      expect(log.lines.some((l) => /^info model m: ready on cpu/.test(l))).toBe(true);
    } finally {
      await rt.close();
    }
  });

  it('cuda alone cannot load: the model reports the provider failure', async () => {
    const rt = await Runtime.create({ modelsDir: root, eps: ['cuda'], log: capture() });
    try {
      const m = rt.model('m')!;
      expect(m.status).toBe('error');
      expect(m.error).toMatch(/no execution provider could load the model: cuda: /);
      expect(m.ep).toBeUndefined();
    } finally {
      await rt.close();
    }
  });

  it('unknown provider names and bad options are refused up front', async () => {
    await expect(Runtime.create({ modelsDir: root, eps: 'tpu,cpu', log: capture() })).rejects.toThrow(/unknown execution provider "tpu"/);
    await expect(Runtime.create({ modelsDir: root, maxBatch: 0, log: capture() })).rejects.toThrow(/maxBatch/);
    await expect(Runtime.create({ modelsDir: join(root, 'nope'), log: capture() })).rejects.toThrow(/models directory .* not found/);
  });
});
