// DeepStack / CodeProject.AI routes on the real runtime: requests sent and answers read the way Home
// Assistant's deepstack_object / deepstack_face, Frigate's deepstack detector and Blue Iris do (a Python
// script with `requests`, as they use), compared with /v1/detect on the same image; then the failure body,
// min_confidence and field checks, the face model choice, and the shared admission on the stand-in runtime.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Runtime } from '../src/runtime/index.ts';
import type { DetectionResponse } from '../src/runtime/types.ts';
import { buildApp } from '../src/server/app.ts';
import { startServer, type RunningServer } from '../src/server/lifecycle.ts';
import { generatorManifest, tinyGeneratorNet, writeModel } from './runtime-fixtures.ts';
import { FakeRuntime, multipartBody, pngBytes } from './server-fakes.ts';

const SHAPES = 'examples/shapes.png';
// a real photo with one face (Debian python3-skimage, installed by .ci/run), for the shipped tiny-face model
const ASTRONAUT = '/usr/lib/python3/dist-packages/skimage/data/astronaut.png';
const quiet = { info() {}, warn() {}, error() {} };

let root: string;
let runtime: Runtime;
let server: RunningServer;
let names: string[];

/** multipart exactly as Python requests builds files={"image": bytes}, data={...}: fields first, file named "image". */
function form(image: Buffer, data: Record<string, string> = {}): { payload: Buffer; headers: Record<string, string> } {
  const b = 'ds' + Math.random().toString(16).slice(2);
  const fields = Object.entries(data).map(([k, v]) => `--${b}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('');
  const payload = Buffer.concat([Buffer.from(`${fields}--${b}\r\nContent-Disposition: form-data; name="image"; filename="image"\r\n\r\n`),
    image, Buffer.from(`\r\n--${b}--\r\n`)]);
  return { payload, headers: { 'content-type': `multipart/form-data; boundary=${b}` } };
}

async function detectJson(query: string, image = SHAPES): Promise<DetectionResponse> {
  const r = await fetch(`${server.url}/v1/detect?${query}`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: readFileSync(image) });
  expect(r.status).toBe(200);
  return r.json() as Promise<DetectionResponse>;
}

/** What a DeepStack answer must hold for a /v1/detect answer: best first, integer pixels clamped to the image. */
function expected(r: DetectionResponse, label: boolean) {
  const px = (v: number, max: number) => Math.min(max, Math.max(0, Math.round(v)));
  return [...r.detections].sort((a, b) => b.score - a.score).map((d) => ({
    ...(label ? { label: d.class } : {}), confidence: d.score,
    x_min: px(d.box.x1, r.image.width), y_min: px(d.box.y1, r.image.height), x_max: px(d.box.x2, r.image.width), y_max: px(d.box.y2, r.image.height),
  }));
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pinhole-deepstack-'));
  // the shipped shapes detector under another folder name, the shipped face model (one class "face"), a generator
  for (const [from, to] of [['yolov2-synth', 'shapes'], ['tiny-face', 'tiny-face']]) {
    mkdirSync(join(root, to));
    for (const f of ['model.json', 'model.onnx']) copyFileSync(join('models', from, f), join(root, to, f));
  }
  names = JSON.parse(readFileSync('models/yolov2-synth/model.json', 'utf8')).names;
  writeModel(root, 'gan', tinyGeneratorNet(), generatorManifest('gan'));
  runtime = await Runtime.create({ modelsDir: root, maxBatch: 2, batchDelayMs: 1, log: quiet });
  const app = await buildApp({ runtime });
  server = await startServer({ app, runtime, host: '127.0.0.1', port: 0 });
}, 60_000);
afterAll(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

// Debian's interpreter (where apt puts python3-requests and python3-pil), not whichever python3 is first on PATH
const PYTHON = '/usr/bin/python3';
const python = spawnSync(PYTHON, ['-c', 'import requests, numpy, PIL'], { encoding: 'utf8' });
const noClients = python.status !== 0 ? 'python3 with requests, numpy and PIL (Debian python3-requests python3-numpy python3-pil; .ci/run installs them)'
  : !existsSync(ASTRONAUT) ? `${ASTRONAUT} (Debian python3-skimage; .ci/run installs it)` : undefined;

describe.skipIf(noClients !== undefined)(`as the clients send and read it${noClients ? ` (skipped: no ${noClients})` : ''}`, () => {
  let out: Record<string, any>;
  beforeAll(async () => {
    // asynchronously: the server answering the script runs in this process
    const p = spawn(PYTHON, ['test/helpers/deepstack_clients.py', server.url, SHAPES, ASTRONAUT, JSON.stringify(names)]);
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const code = await new Promise((resolve) => p.on('close', resolve));
    expect(code, stderr).toBe(0);
    out = JSON.parse(stdout);
  }, 90_000);

  it('Home Assistant deepstack_object: /v1/vision/detection and /custom/{name} answer what /v1/detect finds, best first, integer pixels', async () => {
    const want = expected(await detectJson('model=shapes'), true);
    expect(want.length).toBeGreaterThan(0);
    for (const k of ['ha_object', 'ha_custom']) {
      expect(out[k]).toMatchObject({ status: 200, success: true });
      expect(out[k].content_type).toMatch(/^application\/json/);
      expect(out[k].raw, k).toEqual(want);
      expect(out[k].raw.every((p: Record<string, number>) => ['x_min', 'y_min', 'x_max', 'y_max'].every((c) => Number.isInteger(p[c])))).toBe(true);
      // HA keeps what reaches its 30% and reads labels and fractional boxes
      expect(out[k].kept.map((p: { label: string }) => p.label)).toEqual(want.filter((p) => Math.round(p.confidence * 1000) / 10 >= 30).map((p) => p.label));
    }
  });

  it('Home Assistant deepstack_face: /v1/vision/face finds the astronaut\'s face with the shipped face model, no labels', async () => {
    const want = expected(await detectJson('model=tiny-face', ASTRONAUT), false);
    expect(out.ha_face).toMatchObject({ status: 200, success: true });
    expect(out.ha_face.raw).toEqual(want);
    expect(want.length).toBe(1);
    expect(want[0].confidence).toBeGreaterThan(0.9);
    // her face is in the upper middle of the 512x512 photo
    expect(want[0]).toMatchObject({ x_min: expect.any(Number) });
    expect(want[0].x_min).toBeGreaterThan(120);
    expect(want[0].x_max).toBeLessThan(330);
    expect(want[0].y_max).toBeLessThan(260);
    expect(out.ha_face.kept.map((p: { label?: string }) => p.label)).toEqual([null]);
  });

  it('Frigate: its JPEG of the frame, read in order until a confidence under 0.4, labels mapped to its label ids', async () => {
    expect(out.frigate.status).toBe(200);
    const rows = out.frigate.rows as number[][];
    const used = rows.filter((r) => r[1] > 0);
    expect(used.length).toBeGreaterThan(0);
    // read in order: confidences never increase, every row is a known label with a box inside the frame
    for (let i = 1; i < used.length; i++) expect(used[i][1]).toBeLessThanOrEqual(used[i - 1][1]);
    for (const r of used) {
      expect(r[1]).toBeGreaterThanOrEqual(0.4);
      expect(names[r[0]]).toBeDefined();
      for (const v of r.slice(2)) { expect(v).toBeGreaterThanOrEqual(0); expect(v).toBeLessThanOrEqual(1); }
      expect(r[4]).toBeGreaterThan(r[2]);
      expect(r[5]).toBeGreaterThan(r[3]);
    }
  });

  it('Blue Iris: min_confidence as a form field is the threshold', async () => {
    const want = expected(await detectJson('model=shapes&thresh=0.6'), true);
    expect(out.blue_iris.status).toBe(200);
    expect(out.blue_iris.body.predictions).toEqual(want);
    expect(want.every((p) => p.confidence >= 0.6)).toBe(true);
    expect(want.length).toBeLessThan(out.ha_custom.raw.length);
  });

  it('failures: {"success": false, "error"} with the status (bad image 400, unknown model 404)', () => {
    expect(out.bad_image).toMatchObject({ status: 400, body: { success: false } });
    expect(out.bad_image.content_type).toMatch(/^application\/json/);
    expect(Object.keys(out.bad_image.body).sort()).toEqual(['error', 'success']);
    expect(out.bad_image.body.error).toMatch(/image/);
    expect(out.unknown_model).toMatchObject({ status: 404, body: { success: false, error: expect.stringMatching(/unknown model "nope"/) } });
  });
});

describe('DeepStack routes: parameters and failures', () => {
  const post = (path: string, f: { payload: Buffer; headers: Record<string, string> }) => server.app.inject({ method: 'POST', url: path, ...f });
  function failure(r: LightMyRequestResponse, status: number, re: RegExp) {
    expect(r.statusCode, r.body).toBe(status);
    expect(r.json()).toEqual({ success: false, error: expect.stringMatching(re) });
  }

  it('min_confidence from the form or the query; without it the model\'s own default (not DeepStack\'s 0.4)', async () => {
    const png = readFileSync(SHAPES);
    const viaQuery = await server.app.inject({ method: 'POST', url: '/v1/vision/custom/shapes?min_confidence=0.6', ...form(png) });
    expect(viaQuery.json().predictions).toEqual(expected(await detectJson('model=shapes&thresh=0.6'), true));
    const dflt = (await post('/v1/vision/custom/shapes', form(png))).json().predictions;
    expect(dflt).toEqual(expected(await detectJson('model=shapes'), true));
    expect(dflt.some((p: { confidence: number }) => p.confidence < 0.4)).toBe(true); // the default is lower than 0.4 here
  });

  it('refuses a bad min_confidence, an unknown field, a doubled min_confidence, a non-detector, other routes and bodies', async () => {
    const png = readFileSync(SHAPES);
    failure(await post('/v1/vision/detection', form(png, { min_confidence: '2' })), 400, /min_confidence/);
    failure(await post('/v1/vision/detection', form(png, { min_confidence: 'high' })), 400, /min_confidence/);
    failure(await post('/v1/vision/detection', form(png, { threshold: '0.5' })), 400, /unknown field "threshold"/);
    failure(await server.app.inject({ method: 'POST', url: '/v1/vision/detection?min_confidence=0.5', ...form(png, { min_confidence: '0.5' }) }), 400, /both/);
    failure(await server.app.inject({ method: 'POST', url: '/v1/vision/detection?confidence=0.5', ...form(png) }), 400, /confidence/);
    failure(await post('/v1/vision/custom/gan', form(png)), 400, /not a detector/);
    failure(await server.app.inject({ method: 'POST', url: '/v1/vision/scene', ...form(png) }), 404, /no route/);
    failure(await server.app.inject({ method: 'POST', url: '/v1/vision/detection', headers: { 'content-type': 'text/plain' }, payload: 'x' }), 415, /multipart/);
    const noImage = multipartBody('picture', png);
    failure(await server.app.inject({ method: 'POST', url: '/v1/vision/detection', headers: { 'content-type': noImage.contentType }, payload: noImage.body }), 400, /"image"/);
    // the server still serves
    expect((await post('/v1/vision/detection', form(png))).json().success).toBe(true);
  });
});

describe('DeepStack routes on the stand-in runtime: face model choice, admission', () => {
  let app: FastifyInstance;
  afterAll(async () => { await app?.close(); });

  it('no face model: the face route answers 404 in the failure shape; --face-model picks one; a missing one is named', async () => {
    const png = await pngBytes(20, 10);
    const rt = new FakeRuntime();
    app = await buildApp({ runtime: rt });
    const r = await app.inject({ method: 'POST', url: '/v1/vision/face', ...form(png) });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toEqual({ success: false, error: expect.stringMatching(/no face model is loaded/) });
    await app.close();
    app = await buildApp({ runtime: rt, faceModel: 'det' });
    const ok = await app.inject({ method: 'POST', url: '/v1/vision/face', ...form(png) });
    expect(ok.json()).toMatchObject({ success: true, predictions: [], model: 'det' });
    expect(rt.calls.at(-1)!.model).toBe('det');
    await app.close();
    app = await buildApp({ runtime: rt, faceModel: 'nobody' });
    const missing = await app.inject({ method: 'POST', url: '/v1/vision/face', ...form(png) });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error).toMatch(/--face-model "nobody"/);
  });

  it('shares /v1/detect\'s in-flight limit: beyond it 503 with Retry-After in the failure shape', async () => {
    const png = await pngBytes(20, 10);
    const rt = new FakeRuntime();
    await app?.close();
    app = await buildApp({ runtime: rt, maxInFlight: 2 });
    const release = rt.hold();
    const held = [app.inject({ method: 'POST', url: '/v1/detect', headers: { 'content-type': 'image/png' }, payload: png }),
      app.inject({ method: 'POST', url: '/v1/vision/detection', ...form(png) })];
    while (rt.calls.length < 2) await new Promise((r) => setTimeout(r, 5));
    const over = await app.inject({ method: 'POST', url: '/v1/vision/detection', ...form(png) });
    expect(over.statusCode).toBe(503);
    expect(over.headers['retry-after']).toBe('1');
    expect(over.json()).toEqual({ success: false, error: expect.stringMatching(/busy/) });
    release();
    expect((await Promise.all(held)).map((r) => r.statusCode)).toEqual([200, 200]);
  });
});
