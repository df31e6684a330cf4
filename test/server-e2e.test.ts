// The server end to end on the real Runtime (ONNX Runtime in worker threads) with tiny real models built by
// GraphBuilder: HTTP over 127.0.0.1, bad input, overload, KServe v2 against a direct ORT session, the
// WebSocket stream, metrics, the wgan sample route, and `pinhole serve` shutting down gracefully on SIGTERM.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import WebSocket from 'ws';
import { Runtime } from '../src/runtime/index.ts';
import type { RuntimeLogger } from '../src/runtime/index.ts';
import { buildApp } from '../src/server/app.ts';
import { startServer, type RunningServer } from '../src/server/lifecycle.ts';
import { createMetrics, type ServerMetrics } from '../src/server/metrics.ts';
import { GraphBuilder, attr } from '../src/onnx/graph.ts';
import { buildVocabulary } from '../src/vision/text.ts';
import { generatorManifest, rng, tinyGeneratorNet, tinyRegionNet, tinyVocNet, regionManifest, writeModel, writeTinyModel } from './runtime-fixtures.ts';
import { metricSum, multipartBody, parseMetrics, pngBomb } from './server-fakes.ts';
import { NO_PROMTOOL, promtoolCheck, promtoolPath } from './helpers/promtool.ts';

/** A toy text-to-image graph: tokens [N,6] int32, z [N,4], eps [N,3] -> stage1 [N,3,4,4], stage2 [N,3,8,8]. */
function toyStackGan(vocab: number): Uint8Array {
  const r = rng(21);
  const w = (n: number) => Float32Array.from({ length: n }, () => (r() - 0.5) * 3);
  const g = new GraphBuilder('toy-stackgan');
  const tokens = g.input('tokens', ['N', 6], 'int32');
  const z = g.input('z', ['N', 4]);
  const eps = g.input('eps', ['N', 3]);
  const emb = g.node('Flatten', [g.node('Gather', [g.initializer('table', w(vocab * 5), [vocab, 5]), tokens], { axis: attr.i(0) })], { axis: attr.i(1) });
  const h = g.node('Concat', [emb, z, eps], { axis: attr.i(1) });
  const d = 6 * 5 + 4 + 3;
  for (const [name, side] of [['stage1', 4], ['stage2', 8]] as const) {
    const y = g.node('Tanh', [g.node('Gemm', [h, g.initializer(`w_${name}`, w(d * 3 * side * side), [d, 3 * side * side])])]);
    g.output(g.node('Reshape', [y, g.ints(`shape_${name}`, [-1, 3, side, side])]), name, ['N', 3, side, side]);
  }
  return g.toModel();
}

const quiet: RuntimeLogger = { info() {}, warn() {}, error() {} };
const DOG = readFileSync('/usr/share/darknet/data/dog.jpg');
const BODY_LIMIT = 4 * 1024 * 1024;

let root: string;
let runtime: Runtime;
let metrics: ServerMetrics;
let server: RunningServer;

interface Answer { status: number; headers: Headers; json: any; body: Buffer }

async function call(path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(server.url + path, init);
  const body = Buffer.from(await res.arrayBuffer());
  let json: unknown;
  if ((res.headers.get('content-type') ?? '').includes('json')) json = JSON.parse(body.toString());
  return { status: res.status, headers: res.headers, json, body };
}

const post = (path: string, body: Buffer | string, type?: string) =>
  call(path, { method: 'POST', body, headers: type ? { 'content-type': type } : {} });

function expectError(a: Answer, status: number, code?: string) {
  expect(a.status, JSON.stringify(a.json)).toBe(status);
  expect(Object.keys(a.json)).toEqual(['error']);
  expect(typeof a.json.error.message).toBe('string');
  if (code) expect(a.json.error.code).toBe(code);
}

/** SPEC: the KServe v2 routes answer {"error": "<message>"}. */
function expectKServeError(a: Answer, status: number) {
  expect(a.status, JSON.stringify(a.json)).toBe(status);
  expect(Object.keys(a.json)).toEqual(['error']);
  expect(typeof a.json.error).toBe('string');
}

async function healthy() {
  expect((await call('/v2/health/live')).status).toBe(200);
  // the server as a whole is not ready (the "broken" folder failed: the protocol's "all models ready"); tiny is
  expect((await call('/v2/health/ready')).status).toBe(503);
  expect((await call('/v2/models/tiny/ready')).status).toBe(200);
  const ok = await post('/v1/detect?model=tiny', DOG, 'image/jpeg');
  expect(ok.status).toBe(200);
  expect(ok.json.image).toEqual({ width: 768, height: 576 });
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pinhole-server-'));
  writeTinyModel(root, 'tiny', { size: 64, classes: 3, num: 2, seed: 5 });
  writeModel(root, 'gan', tinyGeneratorNet(), generatorManifest('gan'));
  writeModel(root, 'broken', 'not an onnx file', regionManifest('broken', 64, 3, 2));
  const vocabulary = buildVocabulary(['a red circle on the left', 'a blue square at the top']);
  writeModel(root, 'sg', toyStackGan(vocabulary.length), {
    name: 'sg', kind: 'stackgan', input: { width: 8, height: 8, channels: 3, layout: 'NCHW' }, preprocess: 'resize', names: [],
    source: 'pinhole-train', text: { vocabulary, maxTokens: 6, maxChars: 200 }, inputs: { tokens: 'tokens', noise: 'z', eps: 'eps' },
    zDim: 4, cDim: 3, stages: { 1: { output: 'stage1', size: 4 }, 2: { output: 'stage2', size: 8 } },
  });
  metrics = createMetrics();
  runtime = await Runtime.create({ modelsDir: root, maxBatch: 4, batchDelayMs: 2, queueLimit: 64, observer: metrics.observer, log: quiet });
  const app = await buildApp({ runtime, metrics, bodyLimit: BODY_LIMIT });
  server = await startServer({ app, runtime, host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('detection over HTTP with the real runtime', () => {
  it('raw, multipart and base64 JSON bodies give exactly what Runtime.detect gives', async () => {
    const params = { thresh: 0.05, nms: 0.45 };
    const direct = await runtime.detect('tiny', DOG, params);
    expect(direct.detections.length).toBeGreaterThan(0);
    const raw = await post('/v1/detect?model=tiny&thresh=0.05&nms=0.45', DOG, 'image/jpeg');
    expect(raw.status).toBe(200);
    expect(raw.json.model).toBe('tiny');
    expect(raw.json.image).toEqual({ width: 768, height: 576 });
    expect(raw.json.detections).toEqual(direct.detections);
    const mp = multipartBody('image', DOG, 'image/jpeg');
    const viaMultipart = await post('/v1/detect?model=tiny&thresh=0.05&nms=0.45', mp.body, mp.contentType);
    expect(viaMultipart.json.detections).toEqual(direct.detections);
    const viaJson = await post('/v1/detect?model=tiny&thresh=0.05&nms=0.45', JSON.stringify({ image: DOG.toString('base64') }), 'application/json');
    expect(viaJson.json.detections).toEqual(direct.detections);
    // no model named: the only ready detector
    const dflt = await post('/v1/detect?thresh=0.05&nms=0.45', DOG, 'image/jpeg');
    expect(dflt.json.detections).toEqual(direct.detections);
    for (const k of ['decode', 'queue', 'infer', 'post']) expect(raw.json.timing_ms[k]).toBeGreaterThanOrEqual(0);
  });

  it('max_det, classes and thresh reach the decoder', async () => {
    const all = (await post('/v1/detect?model=tiny&thresh=0.01', DOG, 'image/jpeg')).json.detections as Array<{ class_id: number; score: number }>;
    expect(all.length).toBeGreaterThan(3);
    const top2 = (await post('/v1/detect?model=tiny&thresh=0.01&max_det=2', DOG, 'image/jpeg')).json.detections;
    expect(top2).toEqual(all.slice(0, 2));
    const cls = all[0].class_id;
    const only = (await post(`/v1/detect?model=tiny&thresh=0.01&classes=${cls}`, DOG, 'image/jpeg')).json.detections as Array<{ class_id: number }>;
    expect(only.length).toBeGreaterThan(0);
    expect(only.every((d) => d.class_id === cls)).toBe(true);
    const high = (await post('/v1/detect?model=tiny&thresh=0.9', DOG, 'image/jpeg')).json.detections as Array<{ score: number }>;
    expect(high.every((d) => d.score > 0.9)).toBe(true);
  });

  it('bad input -> the right 4xx in the error shape, and the server stays healthy with flat memory', async () => {
    const png = await sharp(DOG).png().toBuffer();
    expectError(await post('/v1/detect?model=tiny', Buffer.alloc(0), 'image/jpeg'), 400, 'bad_image');
    expectError(await post('/v1/detect?model=tiny', DOG.subarray(0, DOG.length >> 1), 'image/jpeg'), 400, 'bad_image');
    expectError(await post('/v1/detect?model=tiny', png.subarray(0, png.length - 200), 'image/png'), 400, 'bad_image');
    const corrupt = Buffer.from(DOG);
    corrupt.fill(0x55, 600, 4000);
    const c = await post('/v1/detect?model=tiny', corrupt, 'image/jpeg');
    // a JPEG with a damaged entropy-coded segment may still decode; a damaged header may not. Either way no 5xx.
    expect([200, 400]).toContain(c.status);
    expectError(await post('/v1/detect?model=tiny', Buffer.from('GIF89a but not really'), 'image/jpeg'), 400, 'bad_image');
    expectError(await post('/v1/detect?model=tiny', await pngBomb(100_000, 100_000), 'image/png'), 413, 'too_large');
    expectError(await post('/v1/detect?model=tiny', Buffer.alloc(BODY_LIMIT + 1, 0xff), 'image/jpeg'), 413, 'too_large');
    expectError(await post('/v1/detect?model=tiny', DOG, 'text/plain'), 415, 'unsupported_media_type');
    expectError(await post('/v1/detect?model=tiny', DOG), 415, 'unsupported_media_type');
    expectError(await post('/v1/detect?model=tiny&thresh=1.5', DOG, 'image/jpeg'), 400, 'bad_parameter');
    expectError(await post('/v1/detect?model=tiny&classes=3', DOG, 'image/jpeg'), 400, 'bad_parameter');
    expectError(await post('/v1/detect?model=nope', DOG, 'image/jpeg'), 404, 'unknown_model');
    expectError(await post('/v1/detect?model=broken', DOG, 'image/jpeg'), 503, 'model_not_ready');
    expectError(await post('/v1/detect?model=gan', DOG, 'image/jpeg'), 400, 'bad_parameter');
    await healthy();

    // memory: many rejected bodies (several over the limit) must not accumulate
    const big = Buffer.alloc(BODY_LIMIT + 1, 0xff);
    const bomb = await pngBomb(60_000, 60_000);
    const round = () => Promise.all([
      post('/v1/detect?model=tiny', big, 'image/jpeg'),
      post('/v1/detect?model=tiny', bomb, 'image/png'),
      post('/v1/detect?model=tiny', DOG.subarray(0, 5000), 'image/jpeg'),
      post('/v1/detect?model=tiny', DOG, 'image/jpeg'),
    ]);
    for (let i = 0; i < 5; i++) await round();
    const rss0 = process.memoryUsage().rss;
    for (let i = 0; i < 40; i++) {
      const rs = await round();
      expect(rs.map((r) => r.status)).toEqual([413, 413, 400, 200]);
    }
    const grew = (process.memoryUsage().rss - rss0) / 2 ** 20;
    // 40 rounds pass 160 MiB of over-limit bodies alone; kept, they would show here.
    expect(grew).toBeLessThan(96);
    await healthy();
  });

  it('overload: a full batcher queue answers 503 with Retry-After, every other request succeeds, no crash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinhole-overload-'));
    writeModel(dir, 'voc', tinyVocNet(416, 3), regionManifest('voc', 416, 20, 5));
    const rt = await Runtime.create({ modelsDir: dir, maxBatch: 2, batchDelayMs: 1, queueLimit: 3, log: quiet });
    const app = await buildApp({ runtime: rt });
    const s = await startServer({ app, runtime: rt, host: '127.0.0.1', port: 0 });
    try {
      const answers = await Promise.all(Array.from({ length: 24 }, () =>
        fetch(`${s.url}/v1/detect`, { method: 'POST', body: DOG, headers: { 'content-type': 'image/jpeg' } })
          .then(async (r) => ({ status: r.status, retry: r.headers.get('retry-after'), body: await r.json() as { error: { code: string } } }))));
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((x) => x !== 200 && x !== 503)).toEqual([]);
      const refused = answers.filter((a) => a.status === 503);
      expect(refused.length).toBeGreaterThan(0);
      expect(statuses.filter((x) => x === 200).length).toBeGreaterThanOrEqual(3);
      for (const a of refused) {
        expect(a.body.error.code).toBe('overloaded');
        expect(Number(a.retry)).toBeGreaterThanOrEqual(1);
      }
      const after = await fetch(`${s.url}/v1/detect`, { method: 'POST', body: DOG, headers: { 'content-type': 'image/jpeg' } });
      expect(after.status).toBe(200);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('models, KServe v2, generation, metrics', () => {
  it('GET /v1/models reports every folder: ready ones with EP, the broken one with its error', async () => {
    const { json } = await call('/v1/models');
    const byName = Object.fromEntries(json.models.map((m: { name: string }) => [m.name, m]));
    expect(Object.keys(byName).sort()).toEqual(['broken', 'gan', 'sg', 'tiny']);
    expect(byName.tiny).toMatchObject({ kind: 'yolov2', status: 'ready', ready: true, ep: 'cpu', classes: 3,
      input: { width: 64, height: 64, channels: 3, layout: 'NCHW' } });
    expect(byName.broken).toMatchObject({ status: 'error', ready: false });
    expect(byName.broken.error.length).toBeGreaterThan(0);
    expect(byName.gan).toMatchObject({ kind: 'wgan', ready: true });
  });

  it('metadata and readiness; infer returns what a direct ORT session computes', async () => {
    const meta = await call('/v2/models/tiny');
    expect(meta.json).toEqual({ name: 'tiny', versions: ['1'], platform: 'onnxruntime_onnx',
      inputs: [{ name: 'image', datatype: 'FP32', shape: [-1, 3, 64, 64] }],
      outputs: [{ name: 'region', datatype: 'FP32', shape: [-1, 16, 8, 8] }] });
    expect((await call('/v2/models/tiny/ready')).json).toEqual({ name: 'tiny', ready: true });
    expect((await call('/v2/models/broken/ready')).status).toBe(503);

    const n = 2 * 3 * 64 * 64;
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 0.5 + 0.5);
    const r = await post('/v2/models/tiny/infer', JSON.stringify({ id: 'a1', inputs: [{ name: 'image', shape: [2, 3, 64, 64], datatype: 'FP32', data: Array.from(x) }] }), 'application/json');
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.id).toBe('a1');
    expect(r.json.model_name).toBe('tiny');
    const out = r.json.outputs[0];
    expect(out).toMatchObject({ name: 'region', datatype: 'FP32', shape: [2, 16, 8, 8] });
    const s = await ort.InferenceSession.create(tinyRegionNet({ size: 64, classes: 3, num: 2, seed: 5 }));
    const want = (await s.run({ image: new ort.Tensor('float32', x, [2, 3, 64, 64]) })).region.data as Float32Array;
    await s.release();
    expect(out.data.length).toBe(want.length);
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out.data[i] - want[i]));
    expect(maxDiff).toBeLessThan(1e-4);

    // the binary tensor data extension both ways, no Content-Type (as tritonclient.http sends): same numbers
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', shape: [2, 3, 64, 64], datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }],
      outputs: [{ name: 'region', parameters: { binary_data: true } }] }));
    const rb = await call('/v2/models/tiny/versions/1/infer', { method: 'POST', body: Buffer.concat([header, Buffer.from(x.buffer)]),
      headers: { 'inference-header-content-length': String(header.length) } });
    expect(rb.status, rb.body.toString()).toBe(200);
    const hl = Number(rb.headers.get('inference-header-content-length'));
    const rj = JSON.parse(rb.body.subarray(0, hl).toString());
    expect(rj.outputs[0]).toMatchObject({ name: 'region', shape: [2, 16, 8, 8], parameters: { binary_data_size: want.length * 4 } });
    const got = new Float32Array(Uint8Array.from(rb.body.subarray(hl)).buffer);
    expect(got.length).toBe(want.length);
    expect(Array.from(got)).toEqual(Array.from(Float32Array.from(out.data as number[])));

    expectKServeError(await post('/v2/models/tiny/infer', JSON.stringify({ inputs: [{ name: 'img', shape: [1], datatype: 'FP32', data: [1] }] }), 'application/json'), 400);
    expectKServeError(await post('/v2/models/tiny/infer', JSON.stringify({ inputs: [{ name: 'image', shape: [1, 3, 8, 8], datatype: 'FP32', data: new Array(192).fill(0) }] }), 'application/json'), 400);
    expectKServeError(await post('/v2/models/tiny/infer', JSON.stringify({ inputs: [{ name: 'image', shape: [1, 3, 64, 64], datatype: 'FP32', data: new Array(n / 2).fill(0) }], outputs: [{ name: 'nope' }] }), 'application/json'), 400);
    expectKServeError(await call('/v2/models/broken'), 503);
    await healthy();
  });

  it('GET /v1/sample serves the wgan through the runtime: a PNG, deterministic per seed, a grid for n > 1', async () => {
    const a = await call('/v1/sample?seed=7');
    expect(a.status).toBe(200);
    expect(a.headers.get('content-type')).toBe('image/png');
    expect(a.headers.get('x-seed')).toBe('7');
    const b = await call('/v1/sample?model=gan&seed=7');
    expect(b.body.equals(a.body)).toBe(true);
    const one = await sharp(a.body).metadata();
    const grid = await sharp((await call('/v1/sample?seed=7&n=4')).body).metadata();
    expect(grid.width! * grid.height!).toBeGreaterThan(one.width! * one.height!);
    expectError(await call('/v1/sample?model=tiny'), 400, 'bad_parameter');
    expectError(await call('/v1/sample?model=sg'), 400, 'bad_parameter');
  });

  it('POST /v1/generate serves the stackgan through the runtime: same seed same PNG, text and stage matter', async () => {
    const gen = (body: object) => post('/v1/generate', JSON.stringify(body), 'application/json');
    const a = await gen({ text: 'a red circle on the left', seed: 5 });
    expect(a.status, a.body.toString()).toBe(200);
    expect(a.headers.get('content-type')).toBe('image/png');
    expect(a.headers.get('x-seed')).toBe('5');
    expect((await sharp(a.body).metadata()).width).toBe(8);
    const direct = await runtime.generate('sg', { text: 'a red circle on the left', seed: 5 });
    expect(a.body.equals(Buffer.from(direct.png))).toBe(true);
    expect((await gen({ text: 'a red circle on the left', seed: 5, model: 'sg' })).body.equals(a.body)).toBe(true);
    expect((await gen({ text: 'a blue square at the top', seed: 5 })).body.equals(a.body)).toBe(false);
    const s1 = await gen({ text: 'a red circle on the left', seed: 5, stage: 1 });
    expect((await sharp(s1.body).metadata()).width).toBe(4);
    const random = await gen({ text: 'a red circle' });
    expect(random.status).toBe(200);
    expect(random.headers.get('x-seed')).toMatch(/^\d+$/);
    expectError(await gen({ text: 'a red circle', model: 'tiny' }), 400, 'bad_parameter');
    expectError(await gen({ text: 'a red circle', stage: 3 }), 400);
    expectError(await gen({ text: 'a red circle', seed: -1 }), 400);
    expectError(await gen({ text: '' }), 400);
    expectError(await gen({ text: 'a red circle', model: 'nope' }), 404, 'unknown_model');
  });

  it('/metrics: requests, batches (average batch = inference_total / execution_total), queue depth', async () => {
    const m0 = parseMetrics((await call('/metrics')).body.toString());
    const rs = await Promise.all(Array.from({ length: 12 }, () => post('/v1/detect?model=tiny', DOG, 'image/jpeg')));
    expect(rs.every((r) => r.status === 200)).toBe(true);
    const text = (await call('/metrics')).body.toString();
    const m1 = parseMetrics(text);
    const d = (name: string, labels: Record<string, string>) => metricSum(m1, name, labels) - metricSum(m0, name, labels);
    expect(d('pinhole_requests_total', { model: 'tiny', route: '/v1/detect', status: '200' })).toBe(12);
    const images = d('pinhole_inference_total', { model: 'tiny' });
    const batches = d('pinhole_execution_total', { model: 'tiny' });
    expect(images).toBe(12);
    expect(batches).toBeGreaterThanOrEqual(3);
    expect(batches).toBeLessThanOrEqual(12);
    expect(d('pinhole_batch_size_sum', { model: 'tiny' })).toBe(12);
    expect(d('pinhole_queue_duration_seconds_count', { model: 'tiny' })).toBe(12);
    expect(d('pinhole_inference_duration_seconds_count', { model: 'tiny' })).toBe(batches);
    expect(text).toMatch(/^pinhole_queue_depth\{model="tiny"\} 0$/m);
    expect(text).toMatch(/^pinhole_model_ready\{model="broken"\} 0$/m);
  });

  it.skipIf(!promtoolPath)(`/metrics of the real runtime passes promtool check metrics (${promtoolPath ? 'promtool found' : NO_PROMTOOL})`, async () => {
    await post('/v1/detect?model=tiny', DOG, 'image/jpeg');
    const text = (await call('/metrics')).body.toString();
    expect(text).toMatch(/^pinhole_inference_total\{model="tiny"\} [1-9]/m);
    expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
  });
});

describe('stream with the real runtime', () => {
  it('frames sent faster than processed: the newest always gets a result, processed + dropped = sent', async () => {
    const m0 = parseMetrics((await call('/metrics')).body.toString());
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/stream?model=tiny&thresh=0.05`);
    const results: Array<{ frame: number; dropped: number; detections: unknown[]; at: number }> = [];
    ws.on('message', (d) => results.push({ ...JSON.parse(d.toString()), at: performance.now() }));
    await new Promise((r, j) => { ws.on('open', r); ws.on('error', j); });
    const sentAt: number[] = [];
    const N = 30;
    for (let i = 0; i < N; i++) { sentAt.push(performance.now()); ws.send(DOG); }
    const t0 = Date.now();
    while ((results.at(-1)?.frame ?? 0) < N && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 10));
    ws.close();
    const last = results.at(-1)!;
    expect(last.frame).toBe(N);
    expect(results.length + last.dropped).toBe(N);
    expect(last.dropped).toBeGreaterThan(0);
    const frames = results.map((r) => r.frame);
    expect(frames).toEqual([...frames].sort((a, b) => a - b));
    const direct = await runtime.detect('tiny', DOG, { thresh: 0.05 });
    expect(last.detections).toEqual(direct.detections);
    await new Promise((r) => setTimeout(r, 50));
    const m1 = parseMetrics((await call('/metrics')).body.toString());
    const d = (outcome: string) => metricSum(m1, 'pinhole_stream_frames_total', { model: 'tiny', outcome }) - metricSum(m0, 'pinhole_stream_frames_total', { model: 'tiny', outcome });
    expect(d('processed')).toBe(results.length);
    expect(d('dropped')).toBe(last.dropped);
  });
});

describe('pinhole serve (child process)', () => {
  it('starts on --port 0, serves, and on SIGTERM finishes in-flight requests, refuses new ones, exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinhole-serve-'));
    writeModel(dir, 'voc', tinyVocNet(416, 9), regionManifest('voc', 416, 20, 5));
    const child = spawn(process.execPath, ['bin/pinhole.js', 'serve', '--models', dir, '--port', '0', '--workers', '1', '--max-batch', '1'], {
      cwd: join(import.meta.dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { out += c; });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const t0 = Date.now();
      let url: string | undefined;
      while (!url && Date.now() - t0 < 60_000) {
        url = /serving \d+\/\d+ model\(s\) at (http:\/\/[\d.:]+)/.exec(out)?.[1];
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(url, out).toBeDefined();
      expect(out).toMatch(/voc \(yolov2, cpu\)/);
      const models = await (await fetch(`${url}/v1/models`)).json() as { models: unknown[] };
      expect(models.models[0]).toMatchObject({ name: 'voc', ready: true, ep: 'cpu' });

      const done: number[] = [];
      const sent: Array<Promise<void>> = [];
      const inflight = Array.from({ length: 4 }, () => new Promise<{ status: number; body: { image: unknown } }>((resolve, reject) => {
        const req = http.request(`${url}/v1/detect`, { method: 'POST', headers: { 'content-type': 'image/jpeg' } }, (res) => {
          let b = '';
          res.on('data', (c) => { b += c; });
          res.on('end', () => { done.push(performance.now()); resolve({ status: res.statusCode ?? 0, body: JSON.parse(b) }); });
        });
        req.on('error', reject);
        sent.push(new Promise<void>((r) => req.on('finish', () => r())));
        req.end(DOG);
      }));
      // In flight = received by the server: every body written, and the server busy with them (one worker,
      // batches of one: the four run one after another, ~25 ms each on a quiet machine).
      await Promise.all(sent);
      while (done.length === 0) await new Promise((r) => setTimeout(r, 2));
      const killedAt = performance.now();
      child.kill('SIGTERM');
      const answers = await Promise.all(inflight);
      expect(answers.map((a) => a.status)).toEqual(new Array(4).fill(200));
      for (const a of answers) expect(a.body.image).toEqual({ width: 768, height: 576 });
      // the signal really landed while requests were running
      expect(done.some((t) => t > killedAt)).toBe(true);
      expect(await exited).toBe(0);
      await expect(fetch(`${url}/v2/health/live`)).rejects.toThrow();
      expect(out).toMatch(/SIGTERM/);
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing models folder or a bad flag: one line on stderr, exit 1 / 2', async () => {
    const run = (args: string[]) => new Promise<{ code: number | null; err: string }>((resolve) => {
      const c = spawn(process.execPath, ['bin/pinhole.js', 'serve', ...args], { cwd: join(import.meta.dirname, '..'), stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      c.stderr.on('data', (d) => { err += d; });
      c.on('exit', (code) => resolve({ code, err }));
    });
    const a = await run(['--models', '/nonexistent/models', '--port', '0']);
    expect(a.code).toBe(1);
    expect(a.err.trim().split('\n').filter((l) => l.startsWith('pinhole:'))).toHaveLength(1);
    expect(a.err).toMatch(/models folder \/nonexistent\/models not found: .*--models DIR/);
    expect(a.err).not.toMatch(/\n\s+at /); // no stack
    const b = await run(['--port', 'abc']);
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/--port/);
  });

  it('an empty models folder: serves nothing, live but not ready, says so in the log, exits 0 on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinhole-empty-'));
    const child = spawn(process.execPath, ['bin/pinhole.js', 'serve', '--models', dir, '--port', '0'],
      { cwd: join(import.meta.dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      while (!/serving 0\/0 model\(s\) at (http:\S+)"/.test(out)) {
        if (child.exitCode !== null) throw new Error(`serve exited: ${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const url = /serving 0\/0 model\(s\) at (http:\S+)"/.exec(out)![1];
      expect(out).toMatch(/no model folders under .*: serving nothing, \/v2\/health\/ready answers 503/);
      expect((await fetch(`${url}/v2/health/live`)).status).toBe(200);
      expect((await fetch(`${url}/v2/health/ready`)).status).toBe(503);
      const d = await fetch(`${url}/v1/detect`, { method: 'POST', body: DOG, headers: { 'content-type': 'image/jpeg' } });
      expect(d.status).toBe(404);
      expect(((await d.json()) as { error: { code: string } }).error.code).toBe('unknown_model');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
