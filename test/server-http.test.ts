// The HTTP layer against a stand-in runtime: routing, body formats, validation, error mapping, overload,
// metrics wiring, OpenAPI. (End to end with the real runtime: server-e2e.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { readFileSync } from 'node:fs';
import { buildApp } from '../src/server/app.ts';
import { createMetrics, type ServerMetrics } from '../src/server/metrics.ts';
import { PinholeError } from '../src/errors.ts';
import { FakeRuntime, jpegBytes, metricSum, multipartBody, parseMetrics, pngBomb, pngBytes } from './server-fakes.ts';

let rt: FakeRuntime;
let app: FastifyInstance;
let metrics: ServerMetrics;
let png: Buffer;
const DOG = '/usr/share/darknet/data/dog.jpg';

function expectError(r: LightMyRequestResponse, status: number, code?: string) {
  expect(r.statusCode, r.body).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/json/);
  const b = r.json();
  expect(Object.keys(b)).toEqual(['error']);
  expect(typeof b.error.code).toBe('string');
  expect(typeof b.error.message).toBe('string');
  expect(b.error.message.length).toBeGreaterThan(0);
  if (code) expect(b.error.code).toBe(code);
  return b.error as { code: string; message: string };
}

/** SPEC: the KServe v2 routes answer {"error": "<message>"} (the Open Inference Protocol's shape). */
function expectKServeError(r: LightMyRequestResponse, status: number) {
  expect(r.statusCode, r.body).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/json/);
  const b = r.json();
  expect(Object.keys(b)).toEqual(['error']);
  expect(typeof b.error).toBe('string');
  expect(b.error.length).toBeGreaterThan(0);
  return b.error as string;
}

const detect = (payload: Buffer | string, type: string, query = '') =>
  app.inject({ method: 'POST', url: `/v1/detect${query}`, headers: { 'content-type': type }, payload });

async function healthy() {
  const live = await app.inject({ url: '/v2/health/live' });
  expect(live.statusCode).toBe(200);
  const ok = await detect(png, 'image/png');
  expect(ok.statusCode, ok.body).toBe(200);
}

beforeAll(async () => {
  rt = new FakeRuntime();
  metrics = createMetrics();
  app = await buildApp({ runtime: rt, metrics, bodyLimit: 2 * 1024 * 1024, maxInFlight: 4 });
  await app.ready();
  png = await pngBytes(40, 30);
});
afterAll(async () => { await app.close(); });

describe('POST /v1/detect', () => {
  it('accepts raw JPEG, PNG and WebP bodies and reports the original image size', async () => {
    const jpeg = readFileSync(DOG);
    const r = await detect(jpeg, 'image/jpeg');
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ model: 'det', image: { width: 768, height: 576 }, detections: [] });
    expect(Object.keys(r.json().timing_ms).sort()).toEqual(['decode', 'infer', 'post', 'queue']);
    expect((await detect(png, 'image/png')).json().image).toEqual({ width: 40, height: 30 });
    const sharp = (await import('sharp')).default;
    const webp = await sharp(png).webp().toBuffer();
    expect((await detect(webp, 'image/webp')).json().image).toEqual({ width: 40, height: 30 });
    const n = rt.calls.length;
    expect(rt.calls[n - 1].bytes).toBe(webp.length);
    // what curl --data-binary and many clients send: the decoder sniffs the format
    expect((await detect(jpeg, 'application/octet-stream')).json().image).toEqual({ width: 768, height: 576 });
    // every other format the decoder takes is accepted under its own type
    for (const [type, bytes] of [['image/gif', await sharp(png).gif().toBuffer()], ['image/tiff', await sharp(png).tiff().toBuffer()],
      ['image/avif', await sharp(png).avif().toBuffer()]] as const) {
      const r = await detect(bytes, type);
      expect(r.statusCode, `${type}: ${r.body}`).toBe(200);
      expect(r.json().image).toEqual({ width: 40, height: 30 });
    }
  });

  it('accepts multipart field "image" and JSON base64 (with or without a data: URL)', async () => {
    const jpeg = await jpegBytes(64, 48);
    const mp = multipartBody('image', jpeg, 'image/jpeg');
    const r1 = await detect(mp.body, mp.contentType);
    expect(r1.statusCode, r1.body).toBe(200);
    expect(r1.json().image).toEqual({ width: 64, height: 48 });
    expect(rt.calls.at(-1)!.bytes).toBe(jpeg.length);

    const r2 = await detect(JSON.stringify({ image: png.toString('base64') }), 'application/json');
    expect(r2.json().image).toEqual({ width: 40, height: 30 });
    const r3 = await detect(JSON.stringify({ image: `data:image/png;base64,${png.toString('base64')}` }), 'application/json');
    expect(r3.json().image).toEqual({ width: 40, height: 30 });
    expect(rt.calls.at(-1)!.bytes).toBe(png.length);
  });

  it('passes the query parameters to the runtime, mapped to DetectParams, with a deadline', async () => {
    const before = Date.now();
    const r = await detect(png, 'image/png', '?model=tree&thresh=0.3&nms=0.5&hier=0.6&max_det=7&classes=2,%200,9&agnostic=true&tree_scores=classes');
    expect(r.statusCode, r.body).toBe(200);
    const c = rt.calls.at(-1)!;
    expect(c.model).toBe('tree');
    expect(c.params).toEqual({ thresh: 0.3, nms: 0.5, hier: 0.6, maxDet: 7, classes: [2, 0, 9], agnostic: true, treeScores: 'classes' });
    expect(c.opts!.deadlineMs!).toBeGreaterThan(before);
    // no model named: the first ready detector
    await detect(png, 'image/png');
    expect(rt.calls.at(-1)!.model).toBe('det');
    expect(rt.calls.at(-1)!.params).toEqual({});
  });

  it('the same parameters as multipart fields or JSON properties; unknown, bad or doubled ones refused, never ignored', async () => {
    const form = (fields: Record<string, string>) => {
      const boundary = '----pinholeform';
      const parts = Object.entries(fields).map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`);
      const body = Buffer.concat([Buffer.from(parts.join('')),
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\nContent-Type: image/png\r\n\r\n`),
        png, Buffer.from(`\r\n--${boundary}--\r\n`)]);
      return detect(body, `multipart/form-data; boundary=${boundary}`);
    };
    const all = { model: 'tree', thresh: '0.9', nms: '0.5', hier: '0.6', max_det: '7', classes: '2,0', agnostic: 'true', tree_scores: 'classes' };
    const want = { thresh: 0.9, nms: 0.5, hier: 0.6, maxDet: 7, classes: [2, 0], agnostic: true, treeScores: 'classes' };
    const r1 = await form(all);
    expect(r1.statusCode, r1.body).toBe(200);
    expect(rt.calls.at(-1)!).toMatchObject({ model: 'tree', params: want });
    const r2 = await detect(JSON.stringify({ image: png.toString('base64'), model: 'tree', thresh: 0.9, nms: 0.5, hier: 0.6, max_det: 7,
      classes: '2,0', agnostic: true, tree_scores: 'classes' }), 'application/json');
    expect(r2.statusCode, r2.body).toBe(200);
    expect(rt.calls.at(-1)!).toMatchObject({ model: 'tree', params: want });
    // query and body together, each with its own parameters
    const r3 = await detect(JSON.stringify({ image: png.toString('base64'), nms: 0.3 }), 'application/json', '?thresh=0.7');
    expect(r3.statusCode, r3.body).toBe(200);
    expect(rt.calls.at(-1)!.params).toEqual({ thresh: 0.7, nms: 0.3 });

    const refused: Array<[() => Promise<LightMyRequestResponse>, RegExp]> = [
      [() => form({ threshold: '0.9' }), /unknown parameter "threshold"/],
      [() => form({ thresh: '2' }), /body.thresh/],
      [() => form({ classes: '7' }), /class id 7/],
      [() => form({ model: 'tree', hier: 'x' }), /hier/],
      [() => detect(JSON.stringify({ image: png.toString('base64'), threshold: 0.9 }), 'application/json'), /threshold/],
      [() => detect(JSON.stringify({ image: png.toString('base64'), thresh: 'high' }), 'application/json'), /thresh/],
      [() => detect(JSON.stringify({ image: png.toString('base64'), thresh: 0.5 }), 'application/json', '?thresh=0.5'), /both in the query and in the body/],
    ];
    for (const [call, re] of refused) {
      const r = await call();
      expect(r.statusCode, r.body).toBe(400);
      expect(r.json().error.message).toMatch(re);
    }
    expect((await form({ image: 'not a file' })).statusCode).toBe(400);
    await healthy();
  });

  it('bad parameters -> 400 bad_parameter naming the parameter', async () => {
    const cases: Array<[string, RegExp]> = [
      ['?thresh=2', /thresh/],
      ['?thresh=abc', /thresh/],
      ['?nms=-0.1', /nms/],
      ['?tree_scores=all', /tree_scores/],
      ['?max_det=0', /max_det/],
      ['?max_det=1.5', /max_det/],
      ['?classes=a,b', /classes/],
      ['?classes=1,', /classes/],
      ['?classes=3', /class id 3/],
      ['?threshold=0.5', /threshold/],
      ['?agnostic=maybe', /agnostic/],
    ];
    for (const [q, re] of cases) {
      const e = expectError(await detect(png, 'image/png', q), 400, 'bad_parameter');
      expect(e.message, q).toMatch(re);
    }
    // a model that is not a detector
    expect(expectError(await detect(png, 'image/png', '?model=gan'), 400).message).toMatch(/wgan/);
    await healthy();
  });

  it('unknown model -> 404 unknown_model', async () => {
    const e = expectError(await detect(png, 'image/png', '?model=nope'), 404, 'unknown_model');
    expect(e.message).toMatch(/nope/);
    await healthy();
  });

  it('corrupt, truncated, zero-byte and non-image bodies and an image bomb -> 4xx, server still healthy', async () => {
    const jpeg = readFileSync(DOG);
    const bad: Array<[string, Buffer, string]> = [
      ['zero-byte', Buffer.alloc(0), 'image/jpeg'],
      ['truncated JPEG', jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'image/jpeg'],
      ['corrupt PNG', Buffer.concat([png.subarray(0, 40), Buffer.alloc(60, 7)]), 'image/png'],
      ['text as image', Buffer.from('hello, not an image'), 'image/png'],
      ['bomb', await pngBomb(200_000, 200_000), 'image/png'],
    ];
    for (const [what, body, type] of bad) {
      const r = await detect(body, type);
      expect(r.statusCode, what).toBeGreaterThanOrEqual(400);
      expect(r.statusCode, what).toBeLessThan(500);
      expectError(r, r.statusCode);
    }
    expectError(await detect(Buffer.alloc(0), 'image/jpeg'), 400, 'bad_image');
    // JSON forms
    expectError(await detect('{"image": 5}', 'application/json'), 400);
    expectError(await detect('{"image": "***"}', 'application/json'), 400, 'bad_image');
    expectError(await detect('{"image": ""}', 'application/json'), 400, 'bad_image');
    expectError(await detect('{"image": "iVBOR', 'application/json'), 400, 'bad_request');
    expectError(await detect('', 'application/json'), 400);
    // multipart without the right field
    const mp = multipartBody('picture', png);
    expect(expectError(await detect(mp.body, mp.contentType), 400).message).toMatch(/"image"/);
    await healthy();
  });

  it('body over the limit -> 413 too_large (raw, multipart, base64)', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024 + 1, 1);
    expect(expectError(await detect(big, 'image/jpeg'), 413, 'too_large').message).toMatch(/2097152/);
    const mp = multipartBody('image', big);
    expectError(await detect(mp.body, mp.contentType), 413, 'too_large');
    expectError(await detect(JSON.stringify({ image: big.toString('base64') }), 'application/json'), 413, 'too_large');
    // just under the limit is read (and then fails to decode, which is a 400, not a 413)
    expectError(await detect(big.subarray(1), 'image/jpeg'), 400, 'bad_image');
    await healthy();
  });

  it('wrong or missing content type -> 415 listing the accepted types', async () => {
    for (const type of ['text/plain', 'application/xml', 'image/gif-nope', 'application/x-www-form-urlencoded']) {
      const e = expectError(await detect(png, type), 415, 'unsupported_media_type');
      expect(e.message).toMatch(/image\/jpeg/);
    }
    const r = await app.inject({ method: 'POST', url: '/v1/detect', payload: png });
    expectError(r, 415, 'unsupported_media_type');
    // image bodies are not accepted elsewhere
    expectKServeError(await app.inject({ method: 'POST', url: '/v2/models/det/infer', headers: { 'content-type': 'image/png' }, payload: png }), 415);
    await healthy();
  });

  it('overload: beyond maxInFlight -> 503 with Retry-After; runtime overload -> 503', async () => {
    const release = rt.hold();
    const held = Array.from({ length: 4 }, () => detect(png, 'image/png'));
    let over: LightMyRequestResponse;
    try {
      await new Promise((r) => setTimeout(r, 50));
      over = await Promise.race([detect(png, 'image/png'), new Promise<never>((_, j) => setTimeout(() => j(new Error('not refused')), 2000))]);
    } finally {
      release();
    }
    expectError(over, 503, 'overloaded');
    expect(Number(over.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    for (const r of await Promise.all(held)) expect(r.statusCode).toBe(200);
    // slots are given back
    await healthy();

    rt.queueLimit = 0;
    const q = await detect(png, 'image/png');
    rt.queueLimit = Infinity;
    expectError(q, 503, 'overloaded');
    expect(q.headers['retry-after']).toBe('1');
    await healthy();
  });

  it('runtime faults -> 500 internal without leaking the message; PinholeError -> its own status', async () => {
    const orig = rt.runDetect.bind(rt);
    rt.runDetect = async () => { throw new Error('ENOENT /secret/path/model.onnx'); };
    const e = expectError(await detect(png, 'image/png'), 500, 'internal');
    expect(e.message).not.toMatch(/secret/);
    rt.runDetect = async () => { throw new PinholeError('timeout', 'deadline passed', { retryAfter: 2 }); };
    const t = await detect(png, 'image/png');
    expectError(t, 503, 'timeout');
    expect(t.headers['retry-after']).toBe('2');
    rt.runDetect = orig;
    await healthy();
  });
});

describe('GET /v1/models', () => {
  it('lists every model with kind, input, classes, EP and ready/error, without server paths', async () => {
    const r = await app.inject({ url: '/v1/models' });
    expect(r.statusCode).toBe(200);
    const { models } = r.json();
    expect(models.map((m: { name: string }) => m.name)).toEqual(['det', 'tree', 'gan', 'broken']);
    expect(models[0]).toMatchObject({ name: 'det', kind: 'yolov2', status: 'ready', ready: true, classes: 3, ep: 'cpu',
      input: { width: 32, height: 32, channels: 3, layout: 'NCHW' } });
    expect(models[3]).toMatchObject({ name: 'broken', status: 'error', ready: false, error: 'model.onnx: invalid protobuf' });
    expect(r.body).not.toContain('/models/det');
  });
});

describe('KServe v2', () => {
  it('health live/ready, model metadata and readiness', async () => {
    expect((await app.inject({ url: '/v2/health/live' })).json()).toEqual({ live: true });
    // the protocol's server readiness: all models ready, and "broken" failed to load
    const ready = await app.inject({ url: '/v2/health/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toEqual({ ready: false });
    const meta = await app.inject({ url: '/v2/models/det' });
    expect(meta.statusCode).toBe(200);
    expect(meta.json()).toMatchObject({ name: 'det', platform: 'onnxruntime_onnx', inputs: [{ datatype: 'FP32', shape: [-1, 3, 32, 32] }] });
    expect((await app.inject({ url: '/v2/models/det/ready' })).json()).toEqual({ name: 'det', ready: true });
    const broken = await app.inject({ url: '/v2/models/broken/ready' });
    expect(broken.statusCode).toBe(503);
    expect(broken.json()).toEqual({ name: 'broken', ready: false });
    expectKServeError(await app.inject({ url: '/v2/models/nope' }), 404);
    expectKServeError(await app.inject({ url: '/v2/models/nope/ready' }), 404);
  });

  it('server is ready only when every model is: not while one is loading or failed, nor with none', async () => {
    const rt2 = new FakeRuntime([]);
    const app2 = await buildApp({ runtime: rt2 });
    expect((await app2.inject({ url: '/v2/health/ready' })).statusCode).toBe(503);
    rt2.infos.push({ name: 'a', dir: '', status: 'loading' });
    const r = await app2.inject({ url: '/v2/health/ready' });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toEqual({ ready: false });
    rt2.infos.push({ name: 'b', dir: '', status: 'ready', kind: 'yolov2' });
    expect((await app2.inject({ url: '/v2/health/ready' })).statusCode).toBe(503);
    rt2.infos[0].status = 'error';
    expect((await app2.inject({ url: '/v2/health/ready' })).statusCode).toBe(503);
    rt2.infos[0].status = 'ready';
    const ok = await app2.inject({ url: '/v2/health/ready' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ ready: true });
    await app2.close();
  });

  it('infer: JSON tensors in (nested or flat), typed arrays to the runtime, JSON tensors out', async () => {
    let seen: unknown;
    const orig = rt.infer.bind(rt);
    rt.infer = async (m, inputs) => { seen = inputs; return orig(m, inputs); };
    const r = await app.inject({ method: 'POST', url: '/v2/models/det/infer', payload: {
      id: 'req-1', inputs: [{ name: 'input', shape: [2, 3], datatype: 'FP32', data: [[1, 2.5, 3], [4, 5, -6]] }],
    } });
    rt.infer = orig;
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toEqual({ model_name: 'det', model_version: '1', id: 'req-1',
      outputs: [{ name: 'output', shape: [2, 3], datatype: 'FP32', data: [1, 2.5, 3, 4, 5, -6] }] });
    const t = (seen as Record<string, { type: string; dims: number[]; data: Float32Array }>).input;
    expect(t.type).toBe('float32');
    expect(t.dims).toEqual([2, 3]);
    expect(t.data).toBeInstanceOf(Float32Array);

    const i64 = await app.inject({ method: 'POST', url: '/v2/models/det/infer', payload: {
      inputs: [{ name: 'input', shape: [3], datatype: 'INT64', data: [1, -2, 3] }] } });
    expect(i64.json().outputs[0]).toEqual({ name: 'output', shape: [3], datatype: 'INT64', data: [1, -2, 3] });
    const b = await app.inject({ method: 'POST', url: '/v2/models/det/infer', payload: {
      inputs: [{ name: 'input', shape: [2], datatype: 'BOOL', data: [true, false] }] } });
    expect(b.json().outputs[0]).toEqual({ name: 'output', shape: [2], datatype: 'BOOL', data: [true, false] });
  });

  it('infer: bad tensors -> 400, unknown model -> 404, failed model -> 503', async () => {
    const bad = [
      { inputs: [{ name: 'input', shape: [2, 3], datatype: 'FP32', data: [1, 2] }] },
      { inputs: [{ name: 'input', shape: [2], datatype: 'FP16', data: [1, 2] }] },
      { inputs: [{ name: 'input', shape: [2], datatype: 'UINT8', data: [1, 256] }] },
      { inputs: [{ name: 'input', shape: [2], datatype: 'FP32', data: [1, 'x'] }] },
      { inputs: [{ name: 'input', shape: [-1], datatype: 'FP32', data: [] }] },
      { inputs: [] },
      { nope: 1 },
      { inputs: [{ name: 'input', shape: [1], datatype: 'FP32', data: [1] }, { name: 'input', shape: [1], datatype: 'FP32', data: [1] }] },
    ];
    for (const payload of bad) {
      expectKServeError(await app.inject({ method: 'POST', url: '/v2/models/det/infer', payload }), 400);
    }
    const ok = { inputs: [{ name: 'input', shape: [1], datatype: 'FP32', data: [1] }] };
    expectKServeError(await app.inject({ method: 'POST', url: '/v2/models/nope/infer', payload: ok }), 404);
    expectKServeError(await app.inject({ method: 'POST', url: '/v2/models/broken/infer', payload: ok }), 503);
    expectKServeError(await app.inject({ method: 'POST', url: '/v2/models/det/infer', headers: { 'content-type': 'application/json' }, payload: '{"inputs": [' }), 400);
    await healthy();
  });
});

describe('generation routes', () => {
  it('answer 501 when the runtime has no generation door; the schema still refuses bad syntax first', async () => {
    expectError(await app.inject({ method: 'POST', url: '/v1/generate', payload: { text: 'a red bird' } }), 501, 'not_implemented');
    expectError(await app.inject({ method: 'POST', url: '/v1/generate', payload: { text: '' } }), 400);
    expectError(await app.inject({ url: '/v1/sample?n=0' }), 400, 'bad_parameter');
    expectError(await app.inject({ url: '/v1/sample' }), 501, 'not_implemented');
    expect((await app.inject({ method: 'HEAD', url: '/v1/sample' })).statusCode).toBe(501);
  });

  it('hand the request to the door, answer its errors in our shape, send the PNG with X-Seed', async () => {
    const rt2 = new FakeRuntime();
    const seen: unknown[][] = [];
    const img = await pngBytes(16, 16);
    const door = {
      resolveSample: (model: string | undefined, req: { seed?: number; n?: number }) => {
        seen.push(['resolve', model, req]);
        if (model === 'det') throw new PinholeError('bad_parameter', 'model "det" is a yolov2 model; sampling needs a wgan model');
        if (model === 'zzz') throw new PinholeError('unknown_model', 'unknown model "zzz"');
        return { model: model ?? 'gan', seed: req.seed ?? 9, n: req.n ?? 1 };
      },
      runSample: async (plan: { model: string; seed: number }) => { seen.push(['run', plan]); return { png: img, seed: plan.seed }; },
    };
    Object.assign(rt2, door);
    const app2 = await buildApp({ runtime: rt2 });
    const r = await app2.inject({ url: '/v1/sample?seed=42&n=4' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('image/png');
    expect(r.headers['x-seed']).toBe('42');
    expect(r.rawPayload.equals(img)).toBe(true);
    expect(seen).toEqual([['resolve', undefined, { seed: 42, n: 4 }], ['run', { model: 'gan', seed: 42, n: 4 }]]);
    seen.length = 0;
    expectError(await app2.inject({ url: '/v1/sample?model=det' }), 400, 'bad_parameter');
    expectError(await app2.inject({ url: '/v1/sample?model=zzz' }), 404, 'unknown_model');
    // HEAD resolves (so it answers what GET would) but never runs the generator
    expect((await app2.inject({ method: 'HEAD', url: '/v1/sample' })).statusCode).toBe(200);
    expect(seen.filter(([what]) => what === 'run')).toEqual([]);
    await app2.close();
  });
});

describe('errors, metrics, docs', () => {
  it('unknown routes -> 404, a known route with another method -> 405, in the error shape', async () => {
    expectError(await app.inject({ url: '/nope' }), 404, 'not_found');
    expectError(await app.inject({ method: 'DELETE', url: '/v1/models' }), 405, 'method_not_allowed');
  });

  it('/metrics exposes every SPEC name and the prom-client defaults, and counts', async () => {
    const before = parseMetrics((await app.inject({ url: '/metrics' })).body);
    await detect(png, 'image/png');
    await detect(png, 'image/png', '?model=nope');
    metrics.observer.onBatch!({ model: 'det', size: 3, queueSeconds: [0.001, 0.002, 0.003], inferSeconds: 0.02 });
    metrics.observer.onBatch!({ model: 'det', size: 1, queueSeconds: [0.001], inferSeconds: 0.01 });
    metrics.observer.onQueueDepth!('det', 5);
    const r = await app.inject({ url: '/metrics' });
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    const text = r.body;
    for (const name of ['pinhole_requests_total', 'pinhole_request_duration_seconds', 'pinhole_queue_duration_seconds',
      'pinhole_inference_duration_seconds', 'pinhole_batch_size', 'pinhole_inference_total', 'pinhole_execution_total',
      'pinhole_stream_frames_total', 'pinhole_queue_depth', 'process_cpu_user_seconds_total', 'nodejs_heap_size_total_bytes']) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    const after = parseMetrics(text);
    const d = (name: string, labels: Record<string, string>) => metricSum(after, name, labels) - metricSum(before, name, labels);
    expect(d('pinhole_requests_total', { model: 'det', route: '/v1/detect', status: '200' })).toBe(1);
    expect(d('pinhole_requests_total', { model: '', route: '/v1/detect', status: '404' })).toBe(1);
    expect(d('pinhole_inference_total', { model: 'det' })).toBe(4);
    expect(d('pinhole_execution_total', { model: 'det' })).toBe(2);
    expect(d('pinhole_batch_size_count', { model: 'det' })).toBe(2);
    expect(d('pinhole_batch_size_sum', { model: 'det' })).toBe(4);
    expect(d('pinhole_queue_duration_seconds_count', { model: 'det' })).toBe(4);
    expect(d('pinhole_inference_duration_seconds_count', { model: 'det' })).toBe(2);
    expect(metricSum(after, 'pinhole_queue_depth', { model: 'det' })).toBe(5);
    expect(d('pinhole_request_duration_seconds_count', { route: '/v1/detect' })).toBe(2);
  });

  it('/docs serves the UI and an OpenAPI document with the routes and their schemas', async () => {
    const ui = await app.inject({ url: '/docs' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
    const doc = (await app.inject({ url: '/docs/json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    for (const p of ['/v1/detect', '/v1/models', '/v1/generate', '/v1/sample', '/metrics', '/v2/health/live', '/v2/health/ready',
      '/v2/models/{name}', '/v2/models/{name}/ready', '/v2/models/{name}/infer']) {
      expect(doc.paths[p], p).toBeDefined();
    }
    const post = doc.paths['/v1/detect'].post;
    expect(Object.keys(post.requestBody.content)).toEqual(expect.arrayContaining(['image/jpeg', 'image/png', 'image/webp', 'multipart/form-data', 'application/json']));
    expect(post.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['model', 'thresh', 'nms', 'hier', 'max_det', 'classes']));
    expect(JSON.stringify(doc.components.schemas)).toContain('class_id');
  });
});
