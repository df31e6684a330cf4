// KServe v2 / Open Inference Protocol as Triton's clients speak it: requests without Content-Type, the
// binary tensor data extension in both directions (read back the way tritonclient.http's InferResult
// does: split at Inference-Header-Content-Length, then binary_data_size bytes per output, in order),
// the versioned routes, the protocol's error strings, and readiness. Over real HTTP on 127.0.0.1:0.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { buildApp } from '../src/server/app.ts';
import { startServer, type RunningServer } from '../src/server/lifecycle.ts';
import type { RawTensor } from '../src/runtime/types.ts';
import { FakeRuntime } from './server-fakes.ts';

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }

let rt: FakeRuntime;
let server: RunningServer;
let base: URL;
let seen: Record<string, RawTensor> | undefined;

/** A raw HTTP request: exactly the headers given (no Content-Type unless set), like tritonclient.http. */
function http(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { method, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** JSON header + binary tensors, the way tritonclient.http builds a request with binary inputs. */
function binaryRequest(header: object, tensors: ArrayBufferView[]): { body: Buffer; headers: Record<string, string> } {
  const json = Buffer.from(JSON.stringify(header));
  const parts = tensors.map((t) => Buffer.from(t.buffer, t.byteOffset, t.byteLength));
  return { body: Buffer.concat([json, ...parts]), headers: { 'Inference-Header-Content-Length': String(json.length) } };
}

/** tritonclient.http's InferResult: the JSON header, then each binary output's bytes in order. */
function readResult(a: Answer): { json: { outputs: Array<{ name: string; shape: number[]; datatype: string; data?: unknown[]; parameters?: { binary_data_size: number } }> } & Record<string, unknown>; bytes: Record<string, Buffer> } {
  const len = a.headers['inference-header-content-length'];
  const n = len === undefined ? a.body.length : Number(len);
  const json = JSON.parse(a.body.subarray(0, n).toString());
  const bytes: Record<string, Buffer> = {};
  let at = n;
  for (const o of json.outputs) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) continue;
    bytes[o.name] = a.body.subarray(at, at + size);
    at += size;
  }
  expect(at).toBe(a.body.length);
  return { json, bytes };
}

function v2Error(a: Answer, status: number): string {
  expect(a.status, a.body.toString()).toBe(status);
  expect(a.headers['content-type']).toMatch(/^application\/json/);
  const b = JSON.parse(a.body.toString());
  expect(Object.keys(b)).toEqual(['error']);
  expect(typeof b.error).toBe('string');
  expect(b.error.length).toBeGreaterThan(0);
  return b.error;
}

const fp32 = Float32Array.from([1.5, -2, 3.25, 1e-3, 65504, -0]);
const i64 = BigInt64Array.from([1n, -2n, 9007199254740993n]); // 2^53 + 1: exact only in binary

beforeAll(async () => {
  rt = new FakeRuntime();
  // echoes every input back as an output of the same name with "_out", so several tensors and types round-trip
  rt.infer = async (_m, inputs) => {
    seen = inputs;
    return Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`${k}_out`, v]));
  };
  const app = await buildApp({ runtime: rt, inferBodyLimit: 4096 });
  server = await startServer({ app, runtime: rt, host: '127.0.0.1', port: 0 });
  base = new URL(server.url);
});
afterAll(async () => { await server.close(); });

describe('KServe v2: binary tensor data extension', () => {
  it('binary inputs in, binary outputs out (binary_data_output), values exact, no Content-Type sent', async () => {
    const { body, headers } = binaryRequest({
      id: 'r1',
      parameters: { binary_data_output: true },
      inputs: [
        { name: 'a', shape: [2, 3], datatype: 'FP32', parameters: { binary_data_size: 24 } },
        { name: 'b', shape: [3], datatype: 'INT64', parameters: { binary_data_size: 24 } },
        { name: 'c', shape: [4], datatype: 'BOOL', parameters: { binary_data_size: 4 } },
      ],
    }, [fp32, i64, Uint8Array.from([1, 0, 0, 1])]);
    const a = await http('POST', '/v2/models/det/infer', body, headers);
    expect(a.status, a.body.toString()).toBe(200);
    expect(a.headers['content-type']).toBe('application/octet-stream');
    expect(seen!.a).toMatchObject({ type: 'float32', dims: [2, 3] });
    expect(Array.from(seen!.a.data as Float32Array)).toEqual(Array.from(fp32));
    expect(Array.from(seen!.b.data as BigInt64Array)).toEqual(Array.from(i64));
    const { json, bytes } = readResult(a);
    expect(json).toMatchObject({ model_name: 'det', model_version: '1', id: 'r1' });
    expect(json.outputs.map((o) => [o.name, o.datatype, o.shape, o.parameters?.binary_data_size, o.data])).toEqual([
      ['a_out', 'FP32', [2, 3], 24, undefined], ['b_out', 'INT64', [3], 24, undefined], ['c_out', 'BOOL', [4], 4, undefined],
    ]);
    expect(Array.from(new Float32Array(Uint8Array.from(bytes.a_out).buffer))).toEqual(Array.from(fp32));
    expect(Array.from(new BigInt64Array(Uint8Array.from(bytes.b_out).buffer))).toEqual(Array.from(i64));
    expect(Array.from(bytes.c_out)).toEqual([1, 0, 0, 1]);
  });

  it('JSON and binary inputs mixed; per-output binary_data overrides binary_data_output; octet-stream content type', async () => {
    const { body, headers } = binaryRequest({
      parameters: { binary_data_output: true },
      inputs: [
        { name: 'a', shape: [2], datatype: 'INT32', data: [7, -8] },
        { name: 'b', shape: [3], datatype: 'UINT8', parameters: { binary_data_size: 3 } },
      ],
      outputs: [{ name: 'a_out', parameters: { binary_data: false } }, { name: 'b_out' }],
    }, [Uint8Array.from([0, 128, 255])]);
    const a = await http('POST', '/v2/models/det/infer', body, { ...headers, 'Content-Type': 'application/octet-stream' });
    const { json, bytes } = readResult(a);
    expect(json.outputs[0]).toEqual({ name: 'a_out', datatype: 'INT32', shape: [2], data: [7, -8] });
    expect(json.outputs[1]).toMatchObject({ name: 'b_out', datatype: 'UINT8', parameters: { binary_data_size: 3 } });
    expect(Array.from(bytes.b_out)).toEqual([0, 128, 255]);
  });

  it('a plain JSON request without Content-Type gets JSON back (no binary unless asked)', async () => {
    const a = await http('POST', '/v2/models/det/infer', Buffer.from(JSON.stringify({
      inputs: [{ name: 'input', shape: [2], datatype: 'FP32', data: [0.5, 2] }],
    })));
    expect(a.status, a.body.toString()).toBe(200);
    expect(a.headers['content-type']).toMatch(/^application\/json/);
    expect(a.headers['inference-header-content-length']).toBeUndefined();
    expect(JSON.parse(a.body.toString()).outputs).toEqual([{ name: 'input_out', datatype: 'FP32', shape: [2], data: [0.5, 2] }]);
  });

  it('malformed binary requests -> 400 with the protocol error string; the server keeps serving', async () => {
    const header = { inputs: [{ name: 'a', shape: [2], datatype: 'FP32', parameters: { binary_data_size: 8 } }] };
    const good = binaryRequest(header, [Float32Array.from([1, 2])]);
    const cases: Array<[string, Buffer, Record<string, string>, RegExp]> = [
      ['header length past the body', good.body, { 'Inference-Header-Content-Length': String(good.body.length + 1) }, /Inference-Header-Content-Length/],
      ['header length not a number', good.body, { 'Inference-Header-Content-Length': 'abc' }, /Inference-Header-Content-Length/],
      ['header length cuts the JSON', good.body, { 'Inference-Header-Content-Length': '10' }, /not valid JSON/],
      ['binary shorter than binary_data_size', good.body.subarray(0, good.body.length - 4), good.headers, /runs past/],
      ['bytes left after the last input', Buffer.concat([good.body, Buffer.alloc(4)]), good.headers, /after the last binary input/],
      ['size disagrees with the shape', binaryRequest({ inputs: [{ ...header.inputs[0], shape: [3] }] }, [Float32Array.from([1, 2])]).body,
        binaryRequest({ inputs: [{ ...header.inputs[0], shape: [3] }] }, []).headers, /needs 12 bytes/],
      ['BOOL byte not 0/1', ...(() => { const r = binaryRequest({ inputs: [{ name: 'a', shape: [2], datatype: 'BOOL', parameters: { binary_data_size: 2 } }] }, [Uint8Array.from([1, 7])]); return [r.body, r.headers] as const; })(), /not 0 or 1/],
      ['data and binary both', ...(() => { const r = binaryRequest({ inputs: [{ ...header.inputs[0], data: [1, 2] }] }, [Float32Array.from([1, 2])]); return [r.body, r.headers] as const; })(), /either/],
      ['neither data nor binary', Buffer.from(JSON.stringify({ inputs: [{ name: 'a', shape: [2], datatype: 'FP32' }] })), {}, /"data" or parameters.binary_data_size/],
      ['unsupported datatype', ...(() => { const r = binaryRequest({ inputs: [{ name: 'a', shape: [2], datatype: 'FP16', parameters: { binary_data_size: 4 } }] }, [Uint16Array.from([1, 2])]); return [r.body, r.headers] as const; })(), /datatype/],
    ];
    for (const [what, body, headers, msg] of cases) {
      expect(v2Error(await http('POST', '/v2/models/det/infer', body, headers), 400), what).toMatch(msg);
    }
    expect((await http('GET', '/v2/health/live')).status).toBe(200);
  });
});

describe('KServe v2: routes, errors, readiness', () => {
  it('versioned routes answer for version "1" (as the metadata advertises) and 404 for any other', async () => {
    const meta = await http('GET', '/v2/models/det/versions/1');
    expect(meta.status).toBe(200);
    expect(JSON.parse(meta.body.toString())).toMatchObject({ name: 'det', versions: ['1'], platform: 'onnxruntime_onnx' });
    expect(JSON.parse((await http('GET', '/v2/models/det/versions/1/ready')).body.toString())).toEqual({ name: 'det', ready: true });
    const inf = await http('POST', '/v2/models/det/versions/1/infer', Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [3] }] })));
    expect(JSON.parse(inf.body.toString())).toMatchObject({ model_name: 'det', model_version: '1', outputs: [{ name: 'x_out', data: [3] }] });
    for (const [m, p] of [['GET', '/v2/models/det/versions/2'], ['GET', '/v2/models/det/versions/2/ready'], ['POST', '/v2/models/det/versions/0/infer']]) {
      const body = m === 'POST' ? Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [3] }] })) : undefined;
      expect(v2Error(await http(m, p, body), 404)).toMatch(/no version/);
    }
  });

  it('every /v2 failure is {"error": "<string>"}: unknown model or route, validation, 413, 415, failed model', async () => {
    expect(v2Error(await http('GET', '/v2/models/nope'), 404)).toMatch(/unknown model "nope"/);
    expect(v2Error(await http('GET', '/v2/nope/nope'), 404)).toMatch(/no route/);
    expect(v2Error(await http('POST', '/v2/models/det/infer', Buffer.from('{"nope": 1}')), 400)).toMatch(/inputs/);
    expect(v2Error(await http('POST', '/v2/models/det/infer', Buffer.from('{"inputs": ['), { 'content-type': 'application/json' }), 400)).toMatch(/JSON/);
    expect(v2Error(await http('POST', '/v2/models/det/infer', Buffer.alloc(5000, 0x20)), 413)).toMatch(/4096/);
    expect(v2Error(await http('POST', '/v2/models/det/infer', Buffer.from('{}'), { 'content-type': 'text/plain' }), 415)).toMatch(/text\/plain/);
    const broken = await http('POST', '/v2/models/broken/infer', Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] })));
    expect(v2Error(broken, 503)).toMatch(/failed to load: model.onnx: invalid protobuf/);
    // a failed model's metadata is an error, not a 200 with empty inputs
    expect(v2Error(await http('GET', '/v2/models/broken'), 503)).toMatch(/failed to load/);
    expect(v2Error(await http('GET', '/v2/models/broken/versions/1'), 503)).toMatch(/failed to load/);
  });

  it('a loading model: metadata is an error with Retry-After, ready is false; server ready only when all models are', async () => {
    const rt2 = new FakeRuntime([{ name: 'a', dir: '', status: 'ready', kind: 'yolov2', input: { width: 8, height: 8, channels: 3, layout: 'NCHW' } },
      { name: 'b', dir: '', status: 'loading' }]);
    const app2 = await buildApp({ runtime: rt2 });
    const meta = await app2.inject({ url: '/v2/models/b' });
    expect(meta.statusCode).toBe(503);
    expect(meta.headers['retry-after']).toBe('1');
    expect(meta.json()).toEqual({ error: 'model "b" is still loading' });
    expect((await app2.inject({ url: '/v2/models/b/ready' })).json()).toEqual({ name: 'b', ready: false });
    expect((await app2.inject({ url: '/v2/health/ready' })).statusCode).toBe(503);
    rt2.infos[1].status = 'ready';
    expect((await app2.inject({ url: '/v2/health/ready' })).statusCode).toBe(200);
    expect((await app2.inject({ url: '/v2/models/a/versions/1' })).json().inputs).toEqual([{ name: 'input', datatype: 'FP32', shape: [-1, 3, 8, 8] }]);
    await app2.close();
  });

  it('server metadata lists the binary tensor data extension', async () => {
    const a = await http('GET', '/v2');
    expect(JSON.parse(a.body.toString())).toMatchObject({ name: 'pinhole', extensions: ['binary_tensor_data'] });
  });
});
