// KServe v2 / Open Inference Protocol under /v2: health, server and model metadata, readiness, inference
// on tensors (JSON or the binary tensor data extension, both ways), the versioned model routes (version "1",
// as the metadata advertises). Errors here are the protocol's {"error": "<message>"} (SPEC exception).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PinholeError } from '../../errors.ts';
import type { ModelInfo, RawTensor } from '../../runtime/types.ts';
import type { ModelSignature, ServerRuntime, TensorSignature } from '../contract.ts';
import type { Admission } from '../admission.ts';
import { checkCaps, INFER_CAPS, overOutputCap, textBatchCap, type InferCaps } from '../kserve-caps.ts';
import { InferBodyParser, type InferParserOptions, type ParsedInfer } from '../kserve-parse.ts';
export { declaredBatch } from '../kserve-caps.ts';
import {
  bad, binaryOutput, jsonOutput, requestTensors, v2Metadata, wantsBinary, type V2Output, type V2Request,
} from '../kserve-tensors.ts';

export interface KServeOptions {
  runtime: ServerRuntime;
  /** JSON tensors are verbose: ~10 bytes per float */
  bodyLimit: number;
  /** false once shutdown has begun */
  accepting: () => boolean;
  /** the server's slots and deadline, taken once the request's body has arrived */
  admission: Admission;
  caps: InferCaps;
  /** large bodies are parsed in a worker thread (kserve-parse.ts) */
  parser?: InferParserOptions;
}

export { INFER_CAPS, type InferCaps };

/** The one version every model has (the metadata's `versions`). */
const VERSION = '1';
export const HEADER_LENGTH = 'inference-header-content-length';
// tritonclient.http sends no Content-Type at all; the extension's examples use octet-stream for binary bodies.
const BODY_TYPES = new Set(['application/json', 'application/octet-stream']);

/** Metadata when the runtime offers no signature: the image input as model.json describes it. */
function fallbackSignature(info: ModelInfo): ModelSignature {
  const inputs: TensorSignature[] = info.input
    ? [{ name: 'input', type: 'float32', shape: [-1, info.input.channels, info.input.height, info.input.width] }]
    : [];
  return { inputs, outputs: [] };
}

interface ModelParams { name: string; version?: string }

function knownModel(runtime: ServerRuntime, p: ModelParams): ModelInfo {
  const info = runtime.model(p.name);
  if (!info) throw new PinholeError('unknown_model', `unknown model "${p.name}"`);
  if (p.version !== undefined && p.version !== VERSION) {
    throw new PinholeError('unknown_model', `model "${p.name}" has no version "${p.version}" (versions: ["${VERSION}"])`);
  }
  return info;
}

function readyModel(runtime: ServerRuntime, p: ModelParams): ModelInfo {
  const info = knownModel(runtime, p);
  if (info.status === 'loading') throw new PinholeError('model_not_ready', `model "${p.name}" is still loading`, { retryAfter: 1 });
  if (info.status === 'error') throw new PinholeError('model_not_ready', `model "${p.name}" failed to load: ${info.error ?? 'unknown error'}`);
  return info;
}

const modelParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 } } } as const;
const versionParams = {
  type: 'object',
  required: ['name', 'version'],
  properties: { ...modelParams.properties, version: { type: 'string', minLength: 1, description: `"${VERSION}", the only version` } },
} as const;
/** The params schema for a route: versioned or not. */
const paramsFor = (operationId: string) => (operationId.startsWith('modelVersion') ? versionParams : modelParams);
const v2Error = { $ref: 'KServeError#' } as const;
const readySchema = (key: 'live' | 'ready') => ({ type: 'object', properties: { [key]: { type: 'boolean' } } });
const modelReadySchema = { type: 'object', properties: { name: { type: 'string' }, ready: { type: 'boolean' } } } as const;

/** Checks the request's inputs and requested outputs against the model's signature (when the runtime has one). */
function checkAgainstSignature(sig: ModelSignature | undefined, inputs: Record<string, RawTensor>, requested: string[] | undefined): void {
  if (!sig) return;
  const want = sig.inputs.map((s) => s.name);
  const unknown = Object.keys(inputs).filter((k) => !want.includes(k));
  if (unknown.length) throw bad(`unknown input ${unknown.map((u) => `"${u}"`).join(', ')}; the model takes ${want.join(', ')}`);
  const missing = want.filter((k) => !inputs[k]);
  if (missing.length) throw bad(`missing input ${missing.join(', ')}`);
  if (requested) {
    const have = sig.outputs.map((o) => o.name);
    const unknownOut = requested.filter((r) => !have.includes(r));
    if (unknownOut.length) throw bad(`unknown output ${unknownOut.join(', ')}; the model has ${have.join(', ')}`);
  }
}

/** The response: plain JSON, or JSON followed by the binary outputs with Inference-Header-Content-Length. */
function sendOutputs(reply: FastifyReply, req: V2Request, head: object, names: string[], out: Record<string, RawTensor>) {
  const parts: Buffer[] = [];
  const outputs: V2Output[] = names.map((n) => {
    if (!wantsBinary(req, n)) return jsonOutput(n, out[n]);
    const b = binaryOutput(n, out[n]);
    parts.push(b.bytes);
    return b.meta;
  });
  const body = { ...head, outputs };
  if (!parts.length) return reply.send(body);
  const json = Buffer.from(JSON.stringify(body));
  return reply.type('application/octet-stream').header(HEADER_LENGTH, String(json.length)).send(Buffer.concat([json, ...parts]));
}

/** One infer request: tensors in (JSON and/or binary), checked against the model, run, outputs as asked. */
async function runInfer(opts: KServeOptions, req: FastifyRequest, reply: FastifyReply, parsed: ParsedInfer) {
  const { runtime } = opts;
  const p = req.params as ModelParams;
  readyModel(runtime, p);
  req.pinholeModel = p.name;
  const body = req.body as V2Request;
  const sig = await runtime.signature?.(p.name);
  checkCaps(body, sig, opts.caps);
  const inputs = requestTensors(body, parsed.binary, parsed.tensors);
  const requested = body.outputs?.map((o) => o.name);
  checkAgainstSignature(sig, inputs, requested);
  const out = await runtime.infer(p.name, inputs, opts.admission.enter(reply));
  const names = requested ?? Object.keys(out);
  const missing = names.filter((n) => !out[n]);
  if (missing.length) throw bad(`unknown output ${missing.join(', ')}; the model has ${Object.keys(out).join(', ')}`);
  // outputs whose size the signature left open are counted now, before their answer is built
  const values = names.reduce((a, n) => a + out[n].data.length, 0);
  if (values > opts.caps.maxOutputValues) throw overOutputCap(values, opts.caps);
  const head = { model_name: p.name, model_version: VERSION, ...(body.id !== undefined ? { id: body.id } : {}) };
  return sendOutputs(reply, body, head, names, out);
}

/** One body parser for infer requests: JSON, with or without binary tensor data after it. */
function installInferParser(app: FastifyInstance, opts: KServeOptions, parsedOf: WeakMap<FastifyRequest, ParsedInfer>): void {
  const parser = new InferBodyParser(opts.parser);
  app.addHook('onClose', () => parser.close());
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.bodyLimit }, async (req: FastifyRequest, body: string | Buffer) => {
    const type = req.headers['content-type']?.split(';')[0].trim().toLowerCase();
    if (type !== undefined && !BODY_TYPES.has(type)) {
      throw new PinholeError('unsupported_media_type', `unsupported content type "${type}"; send application/json, application/octet-stream or none`);
    }
    const name = (req.params as { name?: string }).name;
    // the JSON text is read for shapes before it is parsed; binary data after it holds no text to match
    const sig = name && opts.runtime.model(name)?.status === 'ready' ? await opts.runtime.signature?.(name) : undefined;
    const parsed = await parser.parse(body as Buffer, req.headers[HEADER_LENGTH], textBatchCap(sig, opts.caps));
    parsedOf.set(req, parsed);
    return parsed.json;
  });
}

export async function kserveRoutes(app: FastifyInstance, opts: KServeOptions): Promise<void> {
  const { runtime } = opts;
  const answer = (reply: FastifyReply, ok: boolean, body: object) => reply.code(ok ? 200 : 503).send(body);
  const parsedOf = new WeakMap<FastifyRequest, ParsedInfer>();
  installInferParser(app, opts, parsedOf);

  app.get('', {
    schema: { summary: 'Server metadata', operationId: 'serverMetadata', tags: ['kserve-v2'] },
  }, async () => ({ name: 'pinhole', version: '0.1.0', extensions: ['binary_tensor_data'] }));

  app.get('/health/live', {
    schema: { summary: 'Server live', operationId: 'serverLive', tags: ['kserve-v2'], response: { 200: readySchema('live') } },
  }, async () => ({ live: true }));

  app.get('/health/ready', {
    schema: {
      summary: 'Server ready: every model loaded and ready, at least one model, not shutting down',
      operationId: 'serverReady',
      tags: ['kserve-v2'],
      response: { 200: readySchema('ready'), 503: readySchema('ready') },
    },
  }, async (_req, reply) => {
    const ms = runtime.models();
    const ready = opts.accepting() && ms.length > 0 && ms.every((m) => m.status === 'ready');
    return answer(reply, ready, { ready });
  });

  const metadata = async (req: FastifyRequest) => {
    const p = req.params as ModelParams;
    readyModel(runtime, p);
    req.pinholeModel = p.name;
    const sig = (await runtime.signature?.(p.name)) ?? fallbackSignature(runtime.model(p.name)!);
    return { name: p.name, versions: [VERSION], platform: 'onnxruntime_onnx', ...v2Metadata(sig) };
  };
  const metadataSchema = (operationId: string) => ({
    summary: 'Model metadata (an error while the model is loading or failed to load)',
    operationId,
    tags: ['kserve-v2'],
    params: paramsFor(operationId),
    response: { 200: { $ref: 'V2ModelMetadata#' }, '4xx': v2Error, '5xx': v2Error },
  });
  app.get('/models/:name', { schema: metadataSchema('modelMetadata') }, metadata);
  app.get('/models/:name/versions/:version', { schema: metadataSchema('modelVersionMetadata') }, metadata);

  const modelReady = async (req: FastifyRequest, reply: FastifyReply) => {
    const p = req.params as ModelParams;
    const info = knownModel(runtime, p);
    req.pinholeModel = p.name;
    return answer(reply, info.status === 'ready' && opts.accepting(), { name: p.name, ready: info.status === 'ready' && opts.accepting() });
  };
  const readyRouteSchema = (operationId: string) => ({
    summary: 'Model ready', operationId, tags: ['kserve-v2'], params: paramsFor(operationId),
    response: { 200: modelReadySchema, 503: modelReadySchema, 404: v2Error },
  });
  app.get('/models/:name/ready', { schema: readyRouteSchema('modelReady') }, modelReady);
  app.get('/models/:name/versions/:version/ready', { schema: readyRouteSchema('modelVersionReady') }, modelReady);

  const infer = (req: FastifyRequest, reply: FastifyReply) => runInfer(opts, req, reply, parsedOf.get(req) ?? { json: req.body, binary: Buffer.alloc(0) });
  const inferSchema = (operationId: string) => ({
    summary: 'Inference on tensors: JSON, or JSON followed by binary tensor data (Inference-Header-Content-Length)',
    operationId,
    tags: ['kserve-v2'],
    params: paramsFor(operationId),
    body: { $ref: 'V2InferRequest#' },
    response: { 200: { $ref: 'V2InferResponse#' }, '4xx': v2Error, '5xx': v2Error },
  });
  const config = { accepts: 'application/json, application/octet-stream or no Content-Type (JSON, then any binary tensor data)' };
  app.post('/models/:name/infer', { bodyLimit: opts.bodyLimit, config, schema: inferSchema('modelInfer') }, (req, reply) => infer(req, reply));
  app.post('/models/:name/versions/:version/infer', { bodyLimit: opts.bodyLimit, config, schema: inferSchema('modelVersionInfer') }, (req, reply) => infer(req, reply));
}
