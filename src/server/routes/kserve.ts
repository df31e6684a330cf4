// KServe v2 / Open Inference Protocol: health, model metadata and readiness, JSON-tensor inference.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FromSchema } from 'json-schema-to-ts';
import { PinholeError } from '../../errors.ts';
import type { ModelInfo, RawTensor } from '../../runtime/types.ts';
import type { Admission } from '../admission.ts';
import type { DetectOptions, ModelSignature, ServerRuntime, TensorSignature } from '../contract.ts';
import type { v2InferRequestSchema } from '../schemas.ts';

export interface KServeOptions {
  runtime: ServerRuntime;
  /** JSON tensors are verbose: ~10 bytes per float */
  bodyLimit: number;
  /** false once shutdown has begun */
  accepting: () => boolean;
  admission: Admission;
  caps: InferCaps;
}

/**
 * What one infer request may ask for. An answer is JSON text (~10-20 bytes a value), built in memory on
 * the event loop: without a cap one request for a large batch of a generator's images takes gigabytes and
 * stalls every other request (issue 17).
 */
export interface InferCaps {
  /** largest batch (first dimension, where the model leaves it open) */
  maxBatch: number;
  /** most values an answer may hold, all outputs together */
  maxOutputValues: number;
}

export const INFER_CAPS: InferCaps = { maxBatch: 64, maxOutputValues: 1 << 22 };

// The Open Inference Protocol's datatype names live here; the runtime speaks ONNX Runtime's type names.
type V2Type = 'BOOL' | 'UINT8' | 'INT32' | 'INT64' | 'FP32';
const TO_RAW: Record<V2Type, RawTensor['type']> = { BOOL: 'bool', UINT8: 'uint8', INT32: 'int32', INT64: 'int64', FP32: 'float32' };
const FROM_RAW: Record<RawTensor['type'], V2Type> = { bool: 'BOOL', uint8: 'UINT8', int32: 'INT32', int64: 'INT64', float32: 'FP32' };
/** Every ORT type a model's metadata may name (tensors of the last four are listed, not served). */
const DATATYPE: Record<string, string> = { ...FROM_RAW, float16: 'FP16', float64: 'FP64', int8: 'INT8', string: 'BYTES' };

interface V2TensorMetadata { name: string; datatype: string; shape: number[] }

function v2Metadata(sig: ModelSignature): { inputs: V2TensorMetadata[]; outputs: V2TensorMetadata[] } {
  const conv = (t: TensorSignature): V2TensorMetadata => ({ name: t.name, datatype: DATATYPE[t.type] ?? t.type.toUpperCase(), shape: t.shape });
  return { inputs: sig.inputs.map(conv), outputs: sig.outputs.map(conv) };
}
const MAX_ELEMENTS = 1 << 26;

type V2Request = FromSchema<typeof v2InferRequestSchema>;
type V2Input = V2Request['inputs'][number];

function bad(message: string): PinholeError {
  return new PinholeError('bad_request', message);
}

/**
 * Row-major values of `data`, nested at most as deep as the shape has dimensions (a client may send flat or
 * nested arrays). Iterative: a body nested thousands deep must get a 400, not overflow the stack.
 */
function flatten(t: V2Input): unknown[] {
  const maxDepth = Math.max(1, t.shape.length);
  const out: unknown[] = [];
  const stack: Array<{ a: unknown[]; i: number }> = [{ a: t.data, i: 0 }];
  while (stack.length) {
    const top = stack[stack.length - 1];
    if (top.i >= top.a.length) { stack.pop(); continue; }
    const v = top.a[top.i++];
    if (!Array.isArray(v)) { out.push(v); continue; }
    if (stack.length >= maxDepth) throw bad(`input "${t.name}": data is nested deeper than its ${t.shape.length}-dimensional shape`);
    stack.push({ a: v, i: 0 });
  }
  return out;
}

/** JSON values of one input to a typed array, checking count, type and range of every element. */
export function toRawTensor(t: V2Input): RawTensor {
  const type = TO_RAW[t.datatype];
  if (!type) throw bad(`input "${t.name}": unsupported datatype ${t.datatype} (use FP32, INT64, INT32, UINT8 or BOOL)`);
  if (!t.shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad(`input "${t.name}": shape must hold non-negative integers`);
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (n > MAX_ELEMENTS) throw bad(`input "${t.name}": ${n} elements is over the limit of ${MAX_ELEMENTS}`);
  const flat = flatten(t);
  if (flat.length !== n) throw bad(`input "${t.name}": shape [${t.shape.join(',')}] needs ${n} values, got ${flat.length}`);
  const fail = (i: number, what: string) => bad(`input "${t.name}": element ${i} is not ${what}`);
  switch (type) {
    case 'float32': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) { const v = flat[i]; if (typeof v !== 'number') throw fail(i, 'a number'); out[i] = v; }
      return { type, dims: t.shape, data: out };
    }
    case 'int32': case 'uint8': {
      const [lo, hi] = type === 'int32' ? [-(2 ** 31), 2 ** 31 - 1] : [0, 255];
      const out = type === 'int32' ? new Int32Array(n) : new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const v = flat[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw fail(i, `an integer in [${lo}, ${hi}]`);
        out[i] = v;
      }
      return { type, dims: t.shape, data: out };
    }
    case 'int64': {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) { const v = flat[i]; if (!Number.isSafeInteger(v)) throw fail(i, 'an integer'); out[i] = BigInt(v as number); }
      return { type, dims: t.shape, data: out };
    }
    case 'bool': {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) { const v = flat[i]; if (typeof v !== 'boolean') throw fail(i, 'a boolean'); out[i] = v ? 1 : 0; }
      return { type, dims: t.shape, data: out };
    }
  }
}

function fromRawTensor(name: string, t: RawTensor) {
  let data: unknown[];
  if (t.data instanceof BigInt64Array) data = Array.from(t.data, (v) => Number(v));
  else if (t.type === 'bool') data = Array.from(t.data as Uint8Array, (v) => v !== 0);
  else data = Array.from(t.data as Float32Array);
  return { name, datatype: FROM_RAW[t.type], shape: t.dims, data };
}

/** Metadata when the runtime offers no signature: the image input as model.json describes it. */
function fallbackSignature(info: ModelInfo): ModelSignature {
  const inputs: TensorSignature[] = info.input
    ? [{ name: 'input', type: 'float32', shape: [-1, info.input.channels, info.input.height, info.input.width] }]
    : [];
  return { inputs, outputs: [] };
}

function knownModel(runtime: ServerRuntime, name: string): ModelInfo {
  const info = runtime.model(name);
  if (!info) throw new PinholeError('unknown_model', `unknown model "${name}"`);
  return info;
}

function readyModel(runtime: ServerRuntime, name: string): ModelInfo {
  const info = knownModel(runtime, name);
  if (info.status === 'loading') throw new PinholeError('model_not_ready', `model "${name}" is still loading`, { retryAfter: 1 });
  if (info.status === 'error') throw new PinholeError('model_not_ready', `model "${name}" failed to load: ${info.error ?? 'unknown error'}`);
  return info;
}

/** One KServe v2 infer request: JSON tensors checked against the model's signature, run, answered as JSON. */
/** The batch a request asks for: the largest first dimension among inputs whose model dimension is open. */
function batchOf(body: V2Request, sig: ModelSignature | undefined): number {
  let batch = 1;
  for (const t of body.inputs) {
    const open = !sig || (sig.inputs.find((s) => s.name === t.name)?.shape[0] ?? -1) < 0;
    if (open && t.shape.length > 0) batch = Math.max(batch, t.shape[0]);
  }
  return batch;
}

/** Values the outputs will hold for `batch`, or undefined when a dimension other than the batch is open. */
function outputValues(sig: ModelSignature, names: string[] | undefined, batch: number): number | undefined {
  let total = 0;
  for (const o of sig.outputs) {
    if (names && !names.includes(o.name)) continue;
    let n = 1;
    for (const [i, d] of o.shape.entries()) {
      if (d >= 0) n *= d;
      else if (i === 0) n *= batch;
      else return undefined;
    }
    total += n;
  }
  return total;
}

function overOutputCap(values: number, caps: InferCaps): PinholeError {
  return new PinholeError('too_large', `the answer would hold ${values} values, over the cap of ${caps.maxOutputValues} per request; send a smaller batch`);
}

/** Refuses, before anything runs, a request over the batch or answer-size cap. */
function checkCaps(body: V2Request, sig: ModelSignature | undefined, caps: InferCaps): void {
  const batch = batchOf(body, sig);
  if (batch > caps.maxBatch) throw bad(`batch of ${batch} is over the cap of ${caps.maxBatch} per request; split it`);
  const values = sig && outputValues(sig, body.outputs?.map((o) => o.name), batch);
  if (values !== undefined && values > caps.maxOutputValues) throw overOutputCap(values, caps);
}

const SHAPE_HEAD = /"shape"\s*:\s*\[\s*(\d+)/g;

/**
 * The largest first dimension among the "shape" arrays of a JSON body still in text. A batch over the cap
 * is refused from it before megabytes of tensor data are parsed on the event loop (only for models whose
 * every input has an open first dimension, so a first dimension is always the batch).
 */
export function declaredBatch(text: string): number {
  let batch = 0;
  for (const m of text.matchAll(SHAPE_HEAD)) batch = Math.max(batch, Number(m[1]));
  return batch;
}

/** JSON parsing for infer: Fastify's own parser, after the batch cap has been checked on the text. */
async function capCheckingJsonParser(app: FastifyInstance, opts: KServeOptions): Promise<void> {
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: opts.bodyLimit }, async (req: FastifyRequest, text: string | Buffer) => {
    const name = (req.params as { name?: string }).name;
    const sig = name && opts.runtime.model(name)?.status === 'ready' ? await opts.runtime.signature?.(name) : undefined;
    if (sig && sig.inputs.every((t) => (t.shape[0] ?? 0) < 0)) {
      const batch = declaredBatch(text as string);
      if (batch > opts.caps.maxBatch) throw bad(`batch of ${batch} is over the cap of ${opts.caps.maxBatch} per request; split it`);
    }
    return new Promise((resolve, reject) => json(req, text as string, (err, body) => (err ? reject(err) : resolve(body))));
  });
}

function checkNames(body: V2Request, sig: ModelSignature | undefined, inputs: Record<string, RawTensor>): void {
  if (!sig) return;
  const want = sig.inputs.map((s) => s.name);
  const unknown = Object.keys(inputs).filter((k) => !want.includes(k));
  if (unknown.length) throw bad(`unknown input ${unknown.map((u) => `"${u}"`).join(', ')}; the model takes ${want.join(', ')}`);
  const missing = want.filter((k) => !inputs[k]);
  if (missing.length) throw bad(`missing input ${missing.join(', ')}`);
  const requested = body.outputs?.map((o) => o.name);
  if (requested) {
    const have = sig.outputs.map((o) => o.name);
    const unknownOut = requested.filter((r) => !have.includes(r));
    if (unknownOut.length) throw bad(`unknown output ${unknownOut.join(', ')}; the model has ${have.join(', ')}`);
  }
}

async function infer(runtime: ServerRuntime, name: string, body: V2Request, caps: InferCaps, run: DetectOptions) {
  const sig = await runtime.signature?.(name);
  checkCaps(body, sig, caps);
  const inputs: Record<string, RawTensor> = {};
  for (const t of body.inputs) {
    if (inputs[t.name]) throw bad(`input "${t.name}" given twice`);
    inputs[t.name] = toRawTensor(t);
  }
  checkNames(body, sig, inputs);
  const out = await runtime.infer(name, inputs, run);
  const names = body.outputs?.map((o) => o.name) ?? Object.keys(out);
  const missing = names.filter((n) => !out[n]);
  if (missing.length) throw bad(`unknown output ${missing.join(', ')}; the model has ${Object.keys(out).join(', ')}`);
  // outputs whose size the signature left open are counted now, before their JSON is built
  const values = names.reduce((a, n) => a + out[n].data.length, 0);
  if (values > caps.maxOutputValues) throw overOutputCap(values, caps);
  return {
    model_name: name,
    model_version: '1',
    ...(body.id !== undefined ? { id: body.id } : {}),
    outputs: names.map((n) => fromRawTensor(n, out[n])),
  };
}

const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 } } } as const;
const readySchema = (key: 'live' | 'ready') => ({ type: 'object', properties: { [key]: { type: 'boolean' } } });

export async function kserveRoutes(app: FastifyInstance, opts: KServeOptions): Promise<void> {
  const { runtime } = opts;
  const answer = (reply: FastifyReply, ok: boolean, body: object) => reply.code(ok ? 200 : 503).send(body);

  app.get('/v2', {
    schema: { summary: 'Server metadata', tags: ['kserve-v2'] },
  }, async () => ({ name: 'pinhole', version: '0.1.0', extensions: [] }));

  app.get('/v2/health/live', {
    schema: { summary: 'Server live', tags: ['kserve-v2'], response: { 200: readySchema('live') } },
  }, async () => ({ live: true }));

  app.get('/v2/health/ready', {
    schema: {
      summary: 'Server ready: no model still loading, at least one serving, not shutting down',
      tags: ['kserve-v2'],
      response: { 200: readySchema('ready'), 503: readySchema('ready') },
    },
  }, async (_req, reply) => {
    const ms = runtime.models();
    const ready = opts.accepting() && ms.some((m) => m.status === 'ready') && !ms.some((m) => m.status === 'loading');
    return answer(reply, ready, { ready });
  });

  app.get('/v2/models/:name', {
    schema: {
      summary: 'Model metadata',
      tags: ['kserve-v2'],
      params: nameParam,
      response: { 200: { $ref: 'V2ModelMetadata#' }, '4xx': { $ref: 'KServeError#' } },
    },
  }, async (req) => {
    const { name } = req.params as { name: string };
    const info = knownModel(runtime, name);
    req.pinholeModel = name;
    const sig = (info.status === 'ready' ? await runtime.signature?.(name) : undefined) ?? fallbackSignature(info);
    return { name, versions: ['1'], platform: 'onnxruntime_onnx', ...v2Metadata(sig) };
  });

  app.get('/v2/models/:name/ready', {
    schema: {
      summary: 'Model ready',
      tags: ['kserve-v2'],
      params: nameParam,
      response: {
        200: { type: 'object', properties: { name: { type: 'string' }, ready: { type: 'boolean' } } },
        503: { type: 'object', properties: { name: { type: 'string' }, ready: { type: 'boolean' } } },
        404: { $ref: 'KServeError#' },
      },
    },
  }, async (req, reply) => {
    const { name } = req.params as { name: string };
    const info = knownModel(runtime, name);
    req.pinholeModel = name;
    const ready = info.status === 'ready' && opts.accepting();
    return answer(reply, ready, { name, ready });
  });

  await app.register(async (scope) => {
    await capCheckingJsonParser(scope, opts);
    scope.post('/v2/models/:name/infer', {
      bodyLimit: opts.bodyLimit,
      schema: {
        summary: 'Inference on raw tensors (JSON)',
        tags: ['kserve-v2'],
        params: nameParam,
        body: { $ref: 'V2InferRequest#' },
        response: { 200: { $ref: 'V2InferResponse#' }, '4xx': { $ref: 'KServeError#' }, '5xx': { $ref: 'KServeError#' } },
      },
    }, async (req, reply) => {
      const { name } = req.params as { name: string };
      readyModel(runtime, name);
      req.pinholeModel = name;
      return infer(runtime, name, req.body as V2Request, opts.caps, opts.admission.enter(reply));
    });
  });
}
