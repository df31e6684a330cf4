// Issue 17 findings 4-7 on the HTTP layer (stand-in runtime): client mistakes that were 500s, error bodies
// outside the documented shape (Fastify's own 404/405/414/431/bad URL, /v1/stream without Upgrade), error
// logging, body schemas that coerced, HEAD on a generator, draining refused bodies, Origin/Host allow-lists.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import net from 'node:net';
import { Writable } from 'node:stream';
import WebSocket from 'ws';
import { buildApp } from '../src/server/app.ts';
import { parseList, originAllowed, hostAllowed, defaultPolicy } from '../src/server/origin.ts';
import { CLIENT_LINES_PER_SECOND, logClientError } from '../src/server/client-log.ts';
import { declaredBatch } from '../src/server/routes/kserve.ts';
import type { GeneratePlan, GenerateRequest, SamplePlan, SampleRequest } from '../src/server/contract.ts';
import { PinholeError } from '../src/errors.ts';
import { FakeRuntime, multipartBody, pngBytes } from './server-fakes.ts';
import { rawRequest, type RawAnswer } from './helpers/raw-http.ts';

class GenRuntime extends FakeRuntime {
  generated: GenerateRequest[] = [];
  sampled: SampleRequest[] = [];
  constructor() {
    super();
    this.infos.push({ name: 'sg', dir: '/models/sg', status: 'ready', kind: 'stackgan', ep: 'cpu', source: 'pinhole-train',
      input: { width: 8, height: 8, channels: 3, layout: 'NCHW' } });
  }
  // a stand-in generation door: model lookup only; the requests that reach a run are recorded
  private plan<R extends { seed?: number }>(model: string | undefined, fallback: string, req: R) {
    if (model !== undefined && model !== fallback) throw new PinholeError('unknown_model', `unknown model "${model}"`);
    return { model: fallback, seed: req.seed ?? 99, asked: req };
  }
  resolveGenerate(model: string | undefined, req: GenerateRequest) {
    return this.plan(model, 'sg', req) as unknown as GeneratePlan;
  }
  async runGenerate(plan: GeneratePlan) {
    this.generated.push(plan.asked);
    return { png: await pngBytes(4, 4), seed: plan.seed };
  }
  resolveSample(model: string | undefined, req: SampleRequest) {
    return this.plan(model, 'gan', req) as unknown as SamplePlan;
  }
  async runSample(plan: SamplePlan) {
    this.sampled.push(plan.asked);
    return { png: await pngBytes(4, 4), seed: plan.seed };
  }
}

const logLines: Array<Record<string, unknown>> = [];
const logStream = new Writable({ write(chunk, _enc, cb) { for (const l of String(chunk).split('\n')) if (l) logLines.push(JSON.parse(l)); cb(); } });

let rt: GenRuntime;
let app: FastifyInstance;
let port: number;
let png: Buffer;
const LIMIT = 256 * 1024;

function pinholeShape(status: number, body: string, code?: string) {
  const b = JSON.parse(body);
  expect(Object.keys(b), body).toEqual(['error']);
  expect(typeof b.error.code, body).toBe('string');
  expect(b.error.message.length, body).toBeGreaterThan(0);
  if (code) expect(b.error.code).toBe(code);
  expect(status).toBeGreaterThanOrEqual(400);
  return b.error as { code: string; message: string };
}

function kserveShape(body: string) {
  const b = JSON.parse(body);
  expect(Object.keys(b), body).toEqual(['error']);
  expect(typeof b.error, body).toBe('string');
  return b.error as string;
}

const req = (lines: string[], body = '') => `${lines.join('\r\n')}\r\n\r\n${body}`;

beforeAll(async () => {
  rt = new GenRuntime();
  app = await buildApp({ runtime: rt, bodyLimit: LIMIT, logger: { level: 'info', stream: logStream } as never });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as net.AddressInfo).port;
  png = await pngBytes(20, 20);
});
afterAll(async () => { await app.close(); });

describe('finding 4: client mistakes that were 500s are 400s', () => {
  it('multipart without boundary, truncated, or empty -> 400 in the error shape', async () => {
    const mp = multipartBody('image', png);
    const cases: Array<[string, string, Buffer]> = [
      ['no boundary', 'multipart/form-data', mp.body],
      ['truncated', mp.contentType, mp.body.subarray(0, mp.body.length - 40)],
      ['empty', mp.contentType, Buffer.alloc(0)],
      ['garbage', mp.contentType, Buffer.from('this is not multipart at all')],
    ];
    for (const [what, type, payload] of cases) {
      const r = await app.inject({ method: 'POST', url: '/v1/detect', headers: { 'content-type': type }, payload });
      expect(r.statusCode, `${what}: ${r.body}`).toBe(400);
      pinholeShape(r.statusCode, r.body);
    }
  });

  it('KServe data nested thousands deep -> 400 (no stack overflow), in the KServe shape', async () => {
    const deep = `${'['.repeat(7000)}1${']'.repeat(7000)}`;
    const body = `{"inputs":[{"name":"input","shape":[1],"datatype":"FP32","data":${deep}}]}`;
    const r = await app.inject({ method: 'POST', url: '/v2/models/det/infer', headers: { 'content-type': 'application/json' }, payload: body });
    expect(r.statusCode, r.body).toBe(400);
    expect(kserveShape(r.body)).toMatch(/nested deeper/);
    // nesting that matches the shape is still accepted
    const ok = await app.inject({ method: 'POST', url: '/v2/models/det/infer', payload: { inputs: [{ name: 'input', shape: [1, 2], datatype: 'FP32', data: [[1, 2]] }] } });
    expect(ok.statusCode, ok.body).toBe(200);
  });
});

describe('finding 2: the KServe batch is read from the text before parsing', () => {
  it('declaredBatch: the largest first dimension of any "shape", whatever the spacing or key order', () => {
    expect(declaredBatch('{"inputs":[{"name":"z","shape":[3000,64],"datatype":"FP32","data":[0]}]}')).toBe(3000);
    expect(declaredBatch('{"inputs":[{"data":[1],"shape" : [ 7 , 2 ]},{"shape":[12,1]}]}')).toBe(12);
    expect(declaredBatch('{"inputs":[{"shape":[],"data":[1]}]}')).toBe(0);
  });
});

describe('finding 5: every error body in the documented shape', () => {
  it('431 for an over-long query: our shape, Connection: close, the socket ended (not reset)', async () => {
    const r = await rawRequest(port, req([`GET /v1/models?x=${'a'.repeat(20_000)} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: keep-alive']));
    expect(r.status).toBe(431);
    expect(r.headers.connection).toBe('close');
    pinholeShape(r.status, r.body, 'headers_too_large');
    expect(r.reset).toBe(false);
  });

  it('a keep-alive client whose second request is refused with 431 reads the answer instead of a reset', async () => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    let reset = false;
    s.on('data', (c) => { buf += c; });
    s.on('error', () => { reset = true; });
    await new Promise((r) => s.once('connect', r));
    s.write(req(['GET /v2/health/live HTTP/1.1', 'Host: 127.0.0.1']));
    await new Promise((r) => setTimeout(r, 100));
    s.write(req([`GET /v2/health/live?q=${'b'.repeat(20_000)} HTTP/1.1`, 'Host: 127.0.0.1']));
    await new Promise((r) => s.once('close', r));
    expect(reset).toBe(false);
    expect(buf.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 431']);
    // on a /v2 path the KServe shape
    expect(kserveShape(buf.slice(buf.lastIndexOf('\r\n\r\n') + 4))).toMatch(/headers/);
  });

  it('414 for an over-long path parameter, in the KServe shape on /v2', async () => {
    const r = await app.inject({ url: `/v2/models/${'m'.repeat(300)}/ready` });
    expect(r.statusCode).toBe(414);
    kserveShape(r.body);
  });

  it('bad URL encoding -> 400 in our shape', async () => {
    for (const url of ['/%ff', '/v1/models/%E0%A4%A']) {
      const r: RawAnswer = await rawRequest(port, req([`GET ${url} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close']));
      expect(r.status, `${url}: ${r.body}`).toBe(400);
      pinholeShape(r.status, r.body, 'bad_request');
    }
  });

  it('GET /v1/stream without Upgrade -> 426 with Upgrade: websocket, in our shape', async () => {
    const r = await app.inject({ url: '/v1/stream' });
    expect(r.statusCode).toBe(426);
    expect(r.headers.upgrade).toBe('websocket');
    expect(pinholeShape(r.statusCode, r.body, 'upgrade_required').message).toMatch(/WebSocket/);
  });

  it('a known path with a wrong method -> 405 with Allow; an unknown path -> 404', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['DELETE', '/v1/models', /GET/],
      ['PUT', '/v1/detect', /POST/],
      ['GET', '/v1/detect', /POST/],
      ['POST', '/v1/sample', /GET/],
      ['PATCH', '/v2/models/det/infer', /POST/],
    ];
    for (const [method, url, allow] of cases) {
      const r = await app.inject({ method: method as 'GET', url });
      expect(r.statusCode, `${method} ${url}`).toBe(405);
      expect(r.headers.allow).toMatch(allow);
      if (url.startsWith('/v2')) kserveShape(r.body);
      else pinholeShape(r.statusCode, r.body, 'method_not_allowed');
    }
    const nf = await app.inject({ url: '/nope' });
    expect(nf.statusCode).toBe(404);
    pinholeShape(nf.statusCode, nf.body, 'not_found');
    const v2 = await app.inject({ url: '/v2/nope/at/all' });
    expect(v2.statusCode).toBe(404);
    kserveShape(v2.body);
  });

  it('KServe routes answer {"error": "<message>"} for their own errors', async () => {
    expect(kserveShape((await app.inject({ url: '/v2/models/nope' })).body)).toMatch(/nope/);
    const r = await app.inject({ method: 'POST', url: '/v2/models/det/infer', payload: { inputs: [] } });
    expect(r.statusCode).toBe(400);
    kserveShape(r.body);
  });
});

describe('finding 6: client mistakes logged at info without a stack, faults at error', () => {
  it('a burst of bad requests writes no error-level line and no stack; a fault writes one error with its stack', async () => {
    logLines.length = 0;
    const mp = multipartBody('image', png);
    await Promise.all([
      app.inject({ method: 'POST', url: '/v1/detect', headers: { 'content-type': 'multipart/form-data' }, payload: mp.body }),
      app.inject({ method: 'POST', url: '/v1/detect?thresh=7', headers: { 'content-type': 'image/png' }, payload: png }),
      app.inject({ method: 'POST', url: '/v1/detect', headers: { 'content-type': 'image/png' }, payload: Buffer.from('nope') }),
      app.inject({ method: 'POST', url: '/v2/models/det/infer', headers: { 'content-type': 'application/json' }, payload: '{"inputs": [' }),
      app.inject({ method: 'DELETE', url: '/v1/models' }),
      app.inject({ url: '/%ff' }),
      app.inject({ method: 'POST', url: '/v1/generate', payload: { text: 'x', seed: 'one' } }),
    ]);
    await rawRequest(port, req([`GET /?${'z'.repeat(20_000)} HTTP/1.1`, 'Host: 127.0.0.1']));
    expect(logLines.length).toBeGreaterThanOrEqual(7);
    for (const l of logLines) {
      expect(l.level as number, JSON.stringify(l)).toBeLessThan(40);
      expect(JSON.stringify(l)).not.toMatch(/"stack"|\n\s+at /);
    }
    logLines.length = 0;
    const orig = rt.runDetect.bind(rt);
    rt.runDetect = async () => { throw new Error('ENOENT /secret/model.onnx'); };
    const r = await app.inject({ method: 'POST', url: '/v1/detect', headers: { 'content-type': 'image/png' }, payload: png });
    rt.runDetect = orig;
    expect(r.statusCode).toBe(500);
    const errors = logLines.filter((l) => (l.level as number) >= 50);
    expect(errors).toHaveLength(1);
    expect(JSON.stringify(errors[0])).toMatch(/"stack"/);
  });
});

describe('finding 6: a client cannot flood the log', () => {
  it('client-error lines are limited per second; the rest are counted and reported once a second', () => {
    const lines: Array<{ fields: Record<string, unknown>; msg: string }> = [];
    const log = { info: (fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg }), warn: () => {} } as never;
    // a fresh window (the limiter is per process, other tests have used it)
    const t = Date.now() + 60_000;
    logClientError(log, 'info', { code: 'bad_request' }, 'bad 0', t);
    lines.length = 0;
    for (let i = 1; i < 500; i++) logClientError(log, 'info', { code: 'bad_request' }, `bad ${i}`, t + i);
    expect(lines).toHaveLength(CLIENT_LINES_PER_SECOND - 1);
    logClientError(log, 'info', { code: 'bad_request' }, 'next second', t + 1_000);
    expect(lines.at(-2)).toEqual({ fields: { skipped: 500 - CLIENT_LINES_PER_SECOND }, msg: `${500 - CLIENT_LINES_PER_SECOND} more client errors in the last second were not logged` });
    expect(lines.at(-1)!.msg).toBe('next second');
  });
});

describe('finding 7: schemas refuse instead of coercing; HEAD; refused bodies drained; Origin/Host', () => {
  it('"seed": null, true, "5" or 1.5 -> 400 without calling the generator; a number still works', async () => {
    rt.generated.length = 0;
    for (const seed of [null, true, '5', 1.5]) {
      const r = await app.inject({ method: 'POST', url: '/v1/generate', payload: { text: 'a red circle', seed } });
      expect(r.statusCode, `${JSON.stringify(seed)}: ${r.body}`).toBe(400);
      expect(pinholeShape(r.statusCode, r.body).message).toMatch(/seed/);
    }
    expect((await app.inject({ method: 'POST', url: '/v1/generate', payload: { text: 'a', stage: '1' } })).statusCode).toBe(400);
    expect(rt.generated).toEqual([]);
    const ok = await app.inject({ method: 'POST', url: '/v1/generate', payload: { text: 'a red circle', seed: 5 } });
    expect(ok.statusCode).toBe(200);
    expect(rt.generated).toEqual([{ text: 'a red circle', seed: 5 }]);
    // query strings are text: their numbers are still read as numbers
    expect((await app.inject({ url: '/v1/sample?seed=3&n=2' })).statusCode).toBe(200);
    expect(rt.sampled.at(-1)).toEqual({ seed: 3, n: 2 });
  });

  it('HEAD /v1/sample answers like GET without running the generator', async () => {
    rt.sampled.length = 0;
    const r = await app.inject({ method: 'HEAD', url: '/v1/sample?seed=3' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('image/png');
    expect(rt.sampled).toHaveLength(0);
    expect((await app.inject({ method: 'HEAD', url: '/v1/sample?model=nope' })).statusCode).toBe(404);
  });

  it('an over-limit body is read to its end before the 413: the writer sees no EPIPE or reset', async () => {
    for (const size of [LIMIT * 100, LIMIT + 1]) {
      const body = Buffer.alloc(size, 7);
      const r = await rawRequest(port, Buffer.concat([Buffer.from(req(['POST /v1/detect HTTP/1.1', 'Host: 127.0.0.1',
        'Content-Type: image/jpeg', `Content-Length: ${size}`])), body]));
      expect(r.status, String(size)).toBe(413);
      expect(r.reset, String(size)).toBe(false);
      expect(pinholeShape(r.status, r.body, 'too_large').message).toMatch(String(LIMIT));
      expect(r.headers.connection).toBe('close');
    }
  });

  it('WebSocket and multipart from a foreign Origin -> 403; same-origin, loopback and Origin-less ones pass', async () => {
    const mp = multipartBody('image', png);
    const post = (origin?: string) => app.inject({ method: 'POST', url: '/v1/detect',
      headers: { 'content-type': mp.contentType, ...(origin ? { origin } : {}) }, payload: mp.body });
    const evil = await post('http://evil.example');
    expect(evil.statusCode).toBe(403);
    expect(pinholeShape(evil.statusCode, evil.body, 'forbidden').message).toMatch(/evil\.example/);
    expect((await post()).statusCode).toBe(200);
    expect((await post('http://localhost:3000')).statusCode).toBe(200);

    const ws = (origin: string) => new Promise<number>((resolve) => {
      const s = new WebSocket(`ws://127.0.0.1:${port}/v1/stream`, { origin });
      s.on('open', () => { s.close(); resolve(101); });
      s.on('unexpected-response', (_r, res) => { resolve(res.statusCode ?? 0); s.terminate(); });
      s.on('error', () => {});
    });
    expect(await ws('http://evil.example')).toBe(403);
    expect(await ws(`http://127.0.0.1:${port}`)).toBe(101);
  });

  it('DNS rebinding: a Host that is not loopback is refused by a loopback server; any Host when so configured', async () => {
    const r = await app.inject({ url: '/v1/models', headers: { host: 'evil.example:8080' } });
    expect(r.statusCode).toBe(403);
    pinholeShape(r.statusCode, r.body, 'forbidden');
    expect((await app.inject({ url: '/v1/models', headers: { host: '127.0.0.1:8080' } })).statusCode).toBe(200);
    expect((await app.inject({ url: '/v1/models', headers: { host: '[::1]:8080' } })).statusCode).toBe(200);
    const open = await buildApp({ runtime: rt, originPolicy: { origins: parseList('https://app.example', 'origin'), hosts: '*' } });
    expect((await open.inject({ url: '/v1/models', headers: { host: 'pinhole.internal:8080' } })).statusCode).toBe(200);
    const mp = multipartBody('image', png);
    const listed = await open.inject({ method: 'POST', url: '/v1/detect', headers: { 'content-type': mp.contentType, origin: 'https://app.example' }, payload: mp.body });
    expect(listed.statusCode).toBe(200);
    await open.close();
  });

  it('the allow-list parser and matchers', () => {
    expect(parseList('*', 'origin')).toBe('*');
    expect(parseList('https://A.example, http://b.example:8080', 'origin')).toEqual(['https://a.example', 'http://b.example:8080']);
    expect(() => parseList('a.example', 'origin')).toThrow(/http/);
    expect(() => parseList('a.example:80', 'host')).toThrow(/port/);
    expect(defaultPolicy('0.0.0.0').hosts).toBe('*');
    expect(defaultPolicy('127.0.0.1').hosts).toBe('loopback');
    const p = { origins: ['https://a.example'], hosts: ['pinhole.lan'] };
    expect(hostAllowed(p, 'pinhole.lan:8080')).toBe(true);
    expect(hostAllowed(p, 'other.lan')).toBe(false);
    expect(originAllowed(p, 'https://a.example', 'pinhole.lan')).toBe(true);
    expect(originAllowed(p, 'http://pinhole.lan:8080', 'pinhole.lan:8080')).toBe(true);
    expect(originAllowed(p, 'https://b.example', 'pinhole.lan')).toBe(false);
    expect(originAllowed(p, 'null', 'pinhole.lan')).toBe(false);
    expect(originAllowed(p, undefined, 'pinhole.lan')).toBe(true);
  });
});
