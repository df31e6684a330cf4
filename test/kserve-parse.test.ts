// Large KServe infer bodies are parsed in a worker thread (src/server/kserve-parse.ts): the same tensors and
// the same errors as the inline parse, a bounded queue, and an event loop that keeps turning while 30 MB
// of JSON numbers are parsed. End to end over HTTP with a body past the inline threshold.
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/server/app.ts';
import { InferBodyParser, INLINE_BYTES } from '../src/server/kserve-parse.ts';
import { requestTensors, type V2Request } from '../src/server/kserve-tensors.ts';
import { PinholeError } from '../src/errors.ts';
import type { RawTensor } from '../src/runtime/types.ts';
import { FakeRuntime } from './server-fakes.ts';

const inline = new InferBodyParser({ inlineBytes: Infinity });
const worker = new InferBodyParser({ inlineBytes: 0 });
afterAll(async () => { await worker.close(); });

const body = (o: unknown, binary: Uint8Array = new Uint8Array(0)) => {
  const json = Buffer.from(JSON.stringify(o));
  return { bytes: Buffer.concat([json, binary]), header: binary.length ? String(json.length) : undefined };
};

async function tensorsOf(p: InferBodyParser, b: { bytes: Buffer; header?: string }, maxBatch?: number): Promise<Record<string, RawTensor>> {
  const r = await p.parse(Buffer.from(b.bytes), b.header, maxBatch);
  return requestTensors(r.json as V2Request, r.binary, r.tensors);
}

async function errorOf(p: InferBodyParser, b: { bytes: Buffer; header?: string }, maxBatch?: number): Promise<[string, string]> {
  const e = await tensorsOf(p, b, maxBatch).then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(PinholeError);
  return [(e as PinholeError).code, (e as Error).message];
}

describe('KServe body parsing off the event loop', () => {
  it('the worker makes the same tensors as the inline parse: nested, flat, every type, with binary data after', async () => {
    const f = Float32Array.from([0.1, -2.5, 3e38, 1e-40, 7, -0]);
    const b = body({
      inputs: [
        { name: 'x', shape: [1, 2, 3], datatype: 'FP32', data: [[[0.1, -2.5, 3e38], [1e-40, 7, -0]]] },
        { name: 'i', shape: [3], datatype: 'INT64', data: [1, -2, 2 ** 53 - 1] },
        { name: 'b', shape: [2, 2], datatype: 'BOOL', data: [true, false, false, true] },
        { name: 'u', shape: [2], datatype: 'UINT8', data: [0, 255] },
        { name: 'raw', shape: [6], datatype: 'FP32', parameters: { binary_data_size: 24 } },
      ],
    }, new Uint8Array(f.buffer));
    const a = await tensorsOf(inline, b), w = await tensorsOf(worker, b);
    expect(Object.keys(w)).toEqual(['x', 'i', 'b', 'u', 'raw']);
    for (const k of Object.keys(a)) {
      expect({ type: w[k].type, dims: w[k].dims }, k).toEqual({ type: a[k].type, dims: a[k].dims });
      expect(Array.from(w[k].data as ArrayLike<number>), k).toEqual(Array.from(a[k].data as ArrayLike<number>));
      expect(w[k].data.constructor, k).toBe(a[k].data.constructor);
    }
    expect(Array.from(w.raw.data as Float32Array)).toEqual(Array.from(f));
  });

  it('and the same errors, with the same codes and texts', async () => {
    const cases = [
      { bytes: Buffer.from('{"inputs": [ {"name": "x"'), header: undefined },
      body({ inputs: [{ name: 'x', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3] }] }),
      body({ inputs: [{ name: 'x', shape: [2], datatype: 'FP32', data: [1, 'two'] }] }),
      body({ inputs: [{ name: 'x', shape: [2], datatype: 'UINT8', data: [1, 256] }] }),
      body({ inputs: [{ name: 'x', shape: [2], datatype: 'FP32', data: [[[1]], 2] }] }),
      body({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }, { name: 'x', shape: [1], datatype: 'FP32', data: [2] }] }),
      { ...body({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] }), header: '99999' },
    ];
    for (const c of cases) expect(await errorOf(worker, c)).toEqual(await errorOf(inline, c));
    // a batch over the cap is refused from the text, before the JSON is parsed
    const big = body({ inputs: [{ name: 'x', shape: [65, 1], datatype: 'FP32', data: [] }] });
    expect(await errorOf(worker, big, 64)).toEqual(['bad_request', 'batch of 65 is over the cap of 64 per request; split it']);
    expect(await errorOf(inline, big, 64)).toEqual(await errorOf(worker, big, 64));
    // an input the schema must judge (shape is not an array) is left with its data for the route to refuse
    const odd = await worker.parse(body({ inputs: [{ name: 'x', shape: 'abc', datatype: 'FP32', data: [1] }] }).bytes, undefined);
    expect((odd.json as { inputs: Array<{ data?: unknown }> }).inputs[0].data).toEqual([1]);
    expect(odd.tensors?.size).toBe(0);
  });

  it('at most maxQueued large bodies at once: the next is 503 overloaded before it is parsed', async () => {
    const p = new InferBodyParser({ inlineBytes: 0, maxQueued: 1 });
    try {
      const b = body({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] });
      const first = p.parse(Buffer.from(b.bytes), undefined);
      const second = await p.parse(Buffer.from(b.bytes), undefined).then(() => undefined, (e: unknown) => e);
      expect(second).toBeInstanceOf(PinholeError);
      expect((second as PinholeError).status).toBe(503);
      expect((second as PinholeError).retryAfter).toBe(1);
      expect((await first).tensors?.size).toBe(1);
      // and a slot is free again once the first is done
      expect((await p.parse(Buffer.from(b.bytes), undefined)).tensors?.size).toBe(1);
    } finally {
      await p.close();
    }
  });

  it('the event loop keeps turning while 30 MB of JSON numbers are parsed', async () => {
    const n = 3 * 416 * 416 * 6;
    const data = Array.from({ length: n }, (_, i) => Math.round(Math.sin(i) * 1e6) / 1e6 + 0.123456);
    const b = body({ inputs: [{ name: 'x', shape: [6, 3, 416, 416], datatype: 'FP32', data }] });
    expect(b.bytes.length).toBeGreaterThan(25e6);
    await worker.parse(body({ inputs: [] }).bytes, undefined); // the worker is up
    // what the same body costs the event loop when parsed inline
    let t0 = performance.now();
    await tensorsOf(inline, b);
    const inlineMs = performance.now() - t0;
    let worst = 0, last = performance.now();
    const tick = setInterval(() => { const now = performance.now(); worst = Math.max(worst, now - last); last = now; }, 2);
    t0 = performance.now();
    const t = await tensorsOf(worker, b);
    const workerMs = performance.now() - t0;
    clearInterval(tick);
    expect(t.x.data.length).toBe(n);
    expect((t.x.data as Float32Array)[12345]).toBe(Math.fround(data[12345]));
    // the inline parse holds the loop for all of it; through the worker the longest pause is a small part
    expect(inlineMs, `inline ${inlineMs.toFixed(0)} ms, worker ${workerMs.toFixed(0)} ms, worst pause ${worst.toFixed(0)} ms`).toBeGreaterThan(150);
    expect(worst, `inline ${inlineMs.toFixed(0)} ms, worker ${workerMs.toFixed(0)} ms, worst pause ${worst.toFixed(0)} ms`).toBeLessThan(inlineMs / 4);
  }, 60_000);

  it('over HTTP: a JSON body past the inline threshold is answered as a small one is', async () => {
    const rt = new FakeRuntime();
    rt.infer = async (_m, inputs) => Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`${k}_out`, v]));
    const app = await buildApp({ runtime: rt, inferBodyLimit: 8 * 1024 * 1024 });
    try {
      const n = 120_000;
      const data = Array.from({ length: n }, (_, i) => (i % 97) / 8);
      const payload = JSON.stringify({ inputs: [{ name: 'x', shape: [1, n], datatype: 'FP32', data }, { name: 'flag', shape: [1], datatype: 'BOOL', data: [true] }] });
      expect(payload.length).toBeGreaterThan(INLINE_BYTES);
      const r = await app.inject({ method: 'POST', url: '/v2/models/det/infer', payload, headers: { 'content-type': 'application/json' } });
      expect(r.statusCode, r.body).toBe(200);
      const out = JSON.parse(r.body).outputs as Array<{ name: string; shape: number[]; data: unknown[] }>;
      expect(out.map((o) => [o.name, o.shape])).toEqual([['x_out', [1, n]], ['flag_out', [1]]]);
      expect(out[0].data).toEqual(data);
      expect(out[1].data).toEqual([true]);
      const bad = JSON.stringify({ inputs: [{ name: 'x', shape: [1, n], datatype: 'FP32', data: [...data.slice(1), 'x'] }] });
      const e = await app.inject({ method: 'POST', url: '/v2/models/det/infer', payload: bad });
      expect(e.statusCode).toBe(400);
      expect(JSON.parse(e.body)).toEqual({ error: `input "x": element ${n - 1} is not a number` });
    } finally {
      await app.close();
    }
  });
});
