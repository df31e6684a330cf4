// Open Inference Protocol (KServe v2) tensors: JSON `data` and the binary tensor data extension, both ways.
// Binary layout (the extension's): little-endian, row-major, no padding; BOOL one byte per element. Node runs
// little-endian everywhere it is supported, so typed arrays over the bytes read them as the protocol says.
import { PinholeError } from '../errors.ts';
import type { FromSchema } from 'json-schema-to-ts';
import type { ModelSignature, RawTensor, TensorSignature } from '../runtime/types.ts';
import type { v2InferRequestSchema } from './schemas.ts';

export type V2Type = 'BOOL' | 'UINT8' | 'INT32' | 'INT64' | 'FP32';
export const V2_TYPES: V2Type[] = ['BOOL', 'UINT8', 'INT32', 'INT64', 'FP32'];
const TO_RAW: Record<V2Type, RawTensor['type']> = { BOOL: 'bool', UINT8: 'uint8', INT32: 'int32', INT64: 'int64', FP32: 'float32' };
const FROM_RAW: Record<RawTensor['type'], V2Type> = { bool: 'BOOL', uint8: 'UINT8', int32: 'INT32', int64: 'INT64', float32: 'FP32' };
/** Every ONNX Runtime type a model's metadata may name, as the protocol spells it (the last four are listed, not served). */
const DATATYPE: Record<string, string> = { ...FROM_RAW, float16: 'FP16', float64: 'FP64', int8: 'INT8', string: 'BYTES' };
const BYTES_PER: Record<RawTensor['type'], number> = { bool: 1, uint8: 1, int32: 4, int64: 8, float32: 4 };
const MAX_ELEMENTS = 1 << 26;

/** The request as its route schema has validated it (one source: schemas.ts). */
export type V2Request = FromSchema<typeof v2InferRequestSchema>;
export type V2Input = V2Request['inputs'][number];

export interface V2TensorMetadata { name: string; datatype: string; shape: number[] }

/** A model's tensors (ONNX Runtime type names) as the protocol's metadata lists them. */
export function v2Metadata(sig: ModelSignature): { inputs: V2TensorMetadata[]; outputs: V2TensorMetadata[] } {
  const conv = (t: TensorSignature): V2TensorMetadata => ({ name: t.name, datatype: DATATYPE[t.type] ?? t.type.toUpperCase(), shape: t.shape });
  return { inputs: sig.inputs.map(conv), outputs: sig.outputs.map(conv) };
}

export function bad(message: string): PinholeError {
  return new PinholeError('bad_request', message);
}

/**
 * Splits a request body into its JSON object and the binary tensor data after it. `headerLength` is the
 * Inference-Header-Content-Length header; without it the whole body is JSON. `checkText` sees the JSON
 * text before it is parsed (kserve-caps refuses an over-cap batch from it).
 */
export function splitInferBody(body: Buffer, headerLength: string | string[] | undefined,
  checkText?: (text: string) => void): { json: unknown; binary: Buffer; headerBytes: number } {
  let n = body.length;
  if (headerLength !== undefined) {
    const s = Array.isArray(headerLength) ? headerLength[0] : headerLength;
    n = /^\d+$/.test(s.trim()) ? Number(s) : NaN;
    if (!(n <= body.length)) throw bad(`Inference-Header-Content-Length "${s}" is not a length within the ${body.length}-byte body`);
  }
  const text = body.subarray(0, n).toString('utf8');
  checkText?.(text);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw bad(`the inference request header is not valid JSON: ${(e as Error).message}`);
  }
  return { json, binary: body.subarray(n), headerBytes: n };
}

/** An input whose JSON data can be made a tensor before the route's schema has seen the request. */
function convertible(t: unknown): t is V2Input {
  if (!t || typeof t !== 'object') return false;
  const x = t as Record<string, unknown>;
  return typeof x.name === 'string' && V2_TYPES.includes(x.datatype as V2Type) && Array.isArray(x.data)
    && Array.isArray(x.shape) && x.shape.every((d) => Number.isInteger(d))
    && (x.parameters === undefined || (typeof x.parameters === 'object' && (x.parameters as Record<string, unknown>)?.binary_data_size === undefined));
}

/**
 * The JSON `data` of every well-formed input as a typed tensor, by input index, each input's `data` then
 * removed from the request (the KServe body parser does this off the event loop for large bodies; the
 * inputs it leaves alone go through requestTensors after the route's schema, as small bodies do).
 */
export function convertJsonInputs(json: unknown): Array<[number, RawTensor]> {
  const inputs = (json as { inputs?: unknown } | null)?.inputs;
  if (!Array.isArray(inputs)) return [];
  const out: Array<[number, RawTensor]> = [];
  inputs.forEach((t, i) => {
    if (!convertible(t)) return;
    out.push([i, jsonTensor(t)]);
    delete (t as { data?: unknown }).data;
  });
  return out;
}

function elementCount(t: V2Input): number {
  if (!t.shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad(`input "${t.name}": shape must hold non-negative integers`);
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (n > MAX_ELEMENTS) throw bad(`input "${t.name}": ${n} elements is over the limit of ${MAX_ELEMENTS}`);
  return n;
}

function rawType(t: V2Input): RawTensor['type'] {
  const type = TO_RAW[t.datatype];
  if (!type) throw bad(`input "${t.name}": unsupported datatype ${t.datatype} (use ${V2_TYPES.join(', ')})`);
  return type;
}

/** One input given as binary data: the bytes reinterpreted (copied, so the typed array is aligned). */
function binaryTensor(t: V2Input, bytes: Buffer): RawTensor {
  const type = rawType(t);
  const n = elementCount(t);
  const need = n * BYTES_PER[type];
  if (bytes.length !== need) throw bad(`input "${t.name}": shape [${t.shape.join(',')}] of ${t.datatype} needs ${need} bytes, binary_data_size says ${bytes.length}`);
  const buf = new Uint8Array(need);
  buf.set(bytes);
  const data = type === 'float32' ? new Float32Array(buf.buffer) : type === 'int32' ? new Int32Array(buf.buffer)
    : type === 'int64' ? new BigInt64Array(buf.buffer) : buf;
  if (type === 'bool') {
    const i = buf.findIndex((v) => v > 1);
    if (i >= 0) throw bad(`input "${t.name}": BOOL element ${i} is byte ${buf[i]}, not 0 or 1`);
  }
  return { type, dims: t.shape, data };
}

/**
 * Row-major values of `data`, nested at most as deep as the shape has dimensions (a client may send flat or
 * nested arrays). Iterative: a body nested thousands deep must get a 400, not overflow the stack.
 */
function flatten(t: V2Input, data: unknown[]): unknown[] {
  const maxDepth = Math.max(1, t.shape.length);
  const out: unknown[] = [];
  const stack: Array<{ a: unknown[]; i: number }> = [{ a: data, i: 0 }];
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
export function jsonTensor(t: V2Input): RawTensor {
  const type = rawType(t);
  const n = elementCount(t);
  if (!Array.isArray(t.data)) throw bad(`input "${t.name}": give "data" or parameters.binary_data_size`);
  const flat = flatten(t, t.data);
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

/**
 * Every input of a request as a typed tensor; binary inputs take their bytes in order from `binary`, and
 * the inputs the body parser already converted (`converted`, by index) are taken as they are.
 */
export function requestTensors(req: V2Request, binary: Buffer, converted?: ReadonlyMap<number, RawTensor>): Record<string, RawTensor> {
  const inputs: Record<string, RawTensor> = {};
  let at = 0;
  for (const [i, t] of req.inputs.entries()) {
    if (inputs[t.name]) throw bad(`input "${t.name}" given twice`);
    const done = converted?.get(i);
    if (done) {
      inputs[t.name] = done;
      continue;
    }
    const size = t.parameters?.binary_data_size;
    if (size === undefined) {
      inputs[t.name] = jsonTensor(t);
      continue;
    }
    if (!Number.isSafeInteger(size) || (size as number) < 0) throw bad(`input "${t.name}": binary_data_size must be a non-negative integer`);
    if (t.data !== undefined) throw bad(`input "${t.name}": give either "data" or binary_data_size, not both`);
    if (at + (size as number) > binary.length) {
      throw bad(`input "${t.name}": binary_data_size ${size} runs past the ${binary.length} bytes of binary data (is Inference-Header-Content-Length right?)`);
    }
    inputs[t.name] = binaryTensor(t, binary.subarray(at, at + (size as number)));
    at += size as number;
  }
  if (at !== binary.length) throw bad(`${binary.length - at} bytes of binary data after the last binary input`);
  return inputs;
}

/** Whether an output goes back as binary data: its own `binary_data`, else the request's `binary_data_output`. */
export function wantsBinary(req: V2Request, name: string): boolean {
  const own = req.outputs?.find((o) => o.name === name)?.parameters?.binary_data;
  if (own !== undefined) return own === true;
  return req.parameters?.binary_data_output === true;
}

export interface V2Output { name: string; datatype: V2Type; shape: number[]; data?: unknown[]; parameters?: { binary_data_size: number } }

export function jsonOutput(name: string, t: RawTensor): V2Output {
  let data: unknown[];
  if (t.data instanceof BigInt64Array) data = Array.from(t.data, (v) => Number(v));
  else if (t.type === 'bool') data = Array.from(t.data as Uint8Array, (v) => v !== 0);
  else data = Array.from(t.data as Float32Array);
  return { name, datatype: FROM_RAW[t.type], shape: t.dims, data };
}

export function binaryOutput(name: string, t: RawTensor): { meta: V2Output; bytes: Buffer } {
  // BOOL is one byte of exactly 0 or 1 on the wire, whatever non-zero value the runtime holds
  const bytes = t.type === 'bool' ? Buffer.from(Uint8Array.from(t.data as Uint8Array, (v) => (v ? 1 : 0)))
    : Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return { meta: { name, datatype: FROM_RAW[t.type], shape: t.dims, parameters: { binary_data_size: bytes.length } }, bytes };
}
