// Inference worker thread: owns ONNX Runtime sessions (session.run blocks the thread it runs on, so
// it must not be the server's event loop), assembles batches and runs the pure decoders + NMS so that
// only small detection lists travel back.
import { mkdirSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { PinholeError } from '../errors.ts';
import { isDetector, type Manifest } from '../manifest.ts';
import { resolveParams } from '../vision/params.ts';
import { decodeJobs, detectorLayout, type DetectorLayout } from '../vision/postprocess.ts';
import { boxFrame } from '../vision/letterbox.ts';
import { firstLine, type EpName } from './ep.ts';
import { cacheDiscard, cacheDrop, cacheDropEntry, cacheEntry, cacheHit, cacheStore } from './ort-cache.ts';
import { checkInputShape } from './input-shape.ts';
import { packDetections } from './detections-wire.ts';
import { createSession, type CreatedSession, type ThreadOptions } from './ort-session.ts';
import { passKey, prepareModel, readPassNote, winogradApplies, writePassNote, type PreparedModel } from './graph-pass.ts';
import type {
  DetectRequest, DetectWireReply, InferReply, InferRequest, LoadReply, LoadRequest, SerializedError, SoloRequest, TensorMeta,
  WarmRequest, WorkerInit, WorkerReply, WorkerRequest,
} from './protocol.ts';
import type { RawTensor } from './types.ts';
import { startMark } from './start-trace.ts';

const init = workerData as WorkerInit;
/** a cold-start phase of this worker (start-trace.ts) */
const mark = (label: string) => startMark(`worker ${init.index ?? '?'}: ${label}`);
mark('modules loaded (onnxruntime-node)');
// The EP fallback is reported by the runtime with its reason; ORT's own console line would be noise.
ort.env.logLevel = 'fatal';

interface Loaded {
  session: ort.InferenceSession;
  /** the same model with more threads, for a request that has every core to itself */
  solo?: ort.InferenceSession;
  manifest: Manifest;
  /** detectors: the decoding set-up, built once at load */
  layout?: DetectorLayout;
  inputName: string;
  outputName: string;
  chw: number;
  inputs: TensorMeta[];
  /** reused across batches: a batch is assembled once, in place, in this buffer */
  batchBuf: Float32Array | null;
  /**
   * Runs on this model take turns: a warm-up of larger batches goes on after the model serves, and
   * must neither share batchBuf with a request's batch nor split the cores with it.
   */
  turn: Promise<unknown>;
}

/** Runs `work` once every earlier run of the model is done. */
function inTurn<T>(s: Loaded, work: () => Promise<T>): Promise<T> {
  const p = s.turn.then(work);
  s.turn = p.catch(() => {});
  return p;
}

const sessions = new Map<number, Loaded>();

function meta(list: readonly ort.InferenceSession.ValueMetadata[]): TensorMeta[] {
  return list.map((m) => (m.isTensor
    ? { name: m.name, type: m.type, shape: [...m.shape] }
    : { name: m.name, type: 'non-tensor', shape: [] }));
}

function get(modelId: number): Loaded {
  const s = sessions.get(modelId);
  if (!s) throw new Error(`no session ${modelId} in this worker`);
  return s;
}

/**
 * A session of the request's model.onnx, rewritten by the runtime's graph passes where they apply
 * (graph-pass.ts: Winograd convolutions on CPU float32 models). With the optimized-graph cache on (CPU first
 * in the provider list, the model large enough: ort-cache.ts) it is created from the cached graph with
 * optimizations off, or, the first time, from the (rewritten) model with its optimized graph saved for the
 * next start. `prepared` is shared by a load's sessions: the rewrite is done once.
 */
async function newSession(m: Pick<LoadRequest, 'file' | 'manifest'>, eps: readonly EpName[], t: ThreadOptions, prepared: () => Promise<PreparedModel>): Promise<CreatedSession & { winograd: string[] }> {
  const applies = winogradApplies(init.winograd !== false, eps, m.manifest);
  const build = `${ort.env.versions.common} quantized=${t.quantized === true} ${passKey(applies)}`;
  const cache = init.ortCache && eps[0] === 'cpu' ? cacheEntry(m.file, build, init.ortCache) : undefined;
  const fresh = async (save?: { saveTo: string; weights: string }) => {
    const p = applies ? await prepared() : { model: m.file, winograd: [] as string[] };
    const made = await createSession(m.file, save ? ['cpu'] : eps, save ? { ...t, optimized: save } : t, p.model);
    return { ...made, winograd: made.ep === 'cpu' ? p.winograd : [] };
  };
  if (!cache) return fresh();
  if (cacheHit(cache)) {
    try {
      // the key names the pass's version: a graph found under it was rewritten by this pass (or had nothing to rewrite)
      return { ...(await createSession(cache.path, ['cpu'], { ...t, optimized: 'cached' })), winograd: readPassNote(cache.note) ?? [] };
    } catch {
      cacheDropEntry(cache);
    }
  }
  try {
    mkdirSync(init.ortCache!.dir, { recursive: true });
    const made = await fresh({ saveTo: cache.temp, weights: cache.data });
    // before the graph is in place, so that a graph found has its note
    if (made.winograd.length) writePassNote(cache.note, made.winograd);
    else cacheDrop(cache.note);
    cacheStore(cache, init.ortCache!);
    return made;
  } catch {
    // an unwritable cache folder (or a model ORT cannot save) serves uncached
    cacheDiscard(cache);
    return fresh();
  }
}

/** The graph passes' result for a load, made on first use and then kept for its other session; `dispose` when loaded. */
function preparedOnce(m: Pick<LoadRequest, 'file'>): { get: () => Promise<PreparedModel>; dispose: () => Promise<void> } {
  let p: Promise<PreparedModel> | undefined;
  return {
    get: () => (p ??= prepareModel(m.file)),
    dispose: async () => (await p?.catch(() => undefined))?.dispose(),
  };
}

/** The solo session: spinning off, so its threads sleep between layers instead of holding cores. */
async function soloSession(m: LoadRequest | SoloRequest, ep: EpName, prepared: () => Promise<PreparedModel>): Promise<ort.InferenceSession | undefined> {
  const threads = m.soloThreads ?? 0;
  if (ep !== 'cpu' || !(threads > init.intraOpThreads) || !isDetector(m.manifest)) return undefined;
  return (await newSession(m, ['cpu'], { intraOpThreads: threads, spinning: false, cpuMemArena: init.cpuMemArena, quantized: m.manifest.precision === 'int8' }, prepared)).session;
}

/** The model's session and, where the plan has one, its solo session; the pass's temporary file goes after. */
async function loadSessions(m: LoadRequest): Promise<CreatedSession & { winograd: string[]; solo?: ort.InferenceSession }> {
  const prepared = preparedOnce(m);
  try {
    // one after the other: ORT creates a session on this thread anyway, and the second finds the first's cached graph
    const made = await newSession(m, m.eps, {
      intraOpThreads: init.intraOpThreads, spinning: init.spinning, cpuMemArena: init.cpuMemArena, quantized: m.manifest.precision === 'int8',
    }, prepared.get);
    mark(`session of model ${m.modelId} created`);
    try {
      const solo = await soloSession(m, made.ep, prepared.get);
      if (solo) mark(`solo session of model ${m.modelId} created`);
      return { ...made, solo };
    } catch (e) {
      await made.session.release();
      throw e;
    }
  } finally {
    await prepared.dispose();
  }
}

async function load(m: LoadRequest): Promise<LoadReply> {
  const { session, ep, failed, winograd, solo } = await loadSessions(m);
  const man = m.manifest;
  const inputName = man.onnx?.input ?? session.inputNames[0];
  const outputName = man.onnx?.outputs?.[0] ?? session.outputNames[0];
  let layout: DetectorLayout | undefined;
  let fixedBatch: number | undefined;
  try {
    fixedBatch = checkInputShape(man, meta(session.inputMetadata));
    if (!session.inputNames.includes(inputName)) throw new Error(`model.onnx has no input "${inputName}" (inputs: ${session.inputNames.join(', ')})`);
    if (!session.outputNames.includes(outputName)) throw new Error(`model.onnx has no output "${outputName}" (outputs: ${session.outputNames.join(', ')})`);
    layout = isDetector(man) ? detectorLayout(man.kind, man) : undefined;
  } catch (e) {
    await Promise.all([session.release(), solo?.release()]);
    throw e;
  }
  const { channels, height, width } = man.input;
  // a reload racing a worker restart may load the same model twice: keep one session
  await release(m.modelId);
  sessions.set(m.modelId, {
    session, solo, manifest: man, layout, inputName, outputName, chw: channels * height * width, inputs: meta(session.inputMetadata), batchBuf: null,
    turn: Promise.resolve(),
  });
  // warmed here, not in a call of its own: that would wait for the main thread, busy building the app at a cold start
  const warmNote = m.warm ? await warm({ op: 'warm', id: m.id, modelId: m.modelId, batches: [1], solo: solo !== undefined }) : null;
  mark(`model ${m.modelId} warmed`);
  return { ep, failed, inputs: meta(session.inputMetadata), outputs: meta(session.outputMetadata), solo: solo !== undefined, fixedBatch, warmNote, winograd };
}

/**
 * The solo session of a model this worker holds, added after the server listens (Runtime.rampUp); true when
 * it has one now. Warmed before it serves: the batcher only sends it work once the runtime hears back.
 */
async function addSolo(m: SoloRequest): Promise<boolean> {
  const s = get(m.modelId);
  if (!s.solo) {
    const prepared = preparedOnce(m);
    let solo: ort.InferenceSession | undefined;
    try {
      solo = await soloSession(m, 'cpu', prepared.get);
    } finally {
      await prepared.dispose();
    }
    // released meanwhile (a reload swapped the model out): nothing to keep
    if (sessions.get(m.modelId) !== s) {
      await solo?.release();
      return false;
    }
    s.solo = solo;
    mark(`solo session of model ${m.modelId} created`);
    if (solo && m.warm) await warm({ op: 'warm', id: m.id, modelId: m.modelId, batches: [], solo: true });
  }
  return s.solo !== undefined;
}

function batchTensor(s: Loaded, images: Float32Array[]): ort.Tensor {
  const n = images.length;
  const { channels, height, width } = s.manifest.input;
  for (const im of images) {
    if (im.length !== s.chw) throw new Error(`image tensor has ${im.length} values, expected ${s.chw}`);
  }
  let data: Float32Array;
  if (n === 1) {
    data = images[0];
  } else {
    if (!s.batchBuf || s.batchBuf.length < n * s.chw) s.batchBuf = new Float32Array(n * s.chw);
    for (let i = 0; i < n; i++) s.batchBuf.set(images[i], i * s.chw);
    data = s.batchBuf.subarray(0, n * s.chw);
  }
  return new ort.Tensor('float32', data, [n, channels, height, width]);
}

async function runDetect(s: Loaded, images: Float32Array[], solo = false) {
  const t0 = performance.now();
  const session = (solo && s.solo) || s.session;
  const out = await session.run({ [s.inputName]: batchTensor(s, images) }, [s.outputName]);
  const t = out[s.outputName];
  return { data: t.data as Float32Array, dims: [...t.dims], ms: performance.now() - t0 };
}

/** A batch of jobs as the door resolved them: run, then decode each image with its own frame and parameters. */
async function detectBatch(m: DetectRequest): Promise<DetectWireReply> {
  const s = get(m.modelId);
  if (!s.layout) throw new Error(`model kind ${s.manifest.kind} has no detection output`);
  const r = await inTurn(s, () => runDetect(s, m.jobs.map((j) => j.tensor), m.solo));
  const t1 = performance.now();
  const packed = packDetections(decodeJobs(s.layout, r.data, r.dims, m.jobs));
  return { packed, inferMs: r.ms, postMs: performance.now() - t1 };
}

const TYPED = {
  float32: Float32Array,
  int64: BigInt64Array,
  int32: Int32Array,
  uint8: Uint8Array,
  bool: Uint8Array,
} as const;

function zeros(type: string, dims: number[]): ort.Tensor | null {
  const n = dims.reduce((a, d) => a * d, 1);
  const C = (TYPED as Record<string, new (n: number) => RawTensor['data']>)[type];
  return C ? new ort.Tensor(type as RawTensor['type'], new C(n), dims) : null;
}

async function warm(m: WarmRequest): Promise<string | null> {
  const s = get(m.modelId);
  if (s.layout && isDetector(s.manifest)) {
    const { width, height } = s.manifest.input;
    const job = { frame: boxFrame(s.manifest.preprocess, { width, height }, width, height), params: resolveParams(s.manifest) };
    // the solo session only ever runs lone requests: batch 1
    const runs = [...(m.solo && s.solo ? [{ b: 1, solo: true }] : []), ...m.batches.map((b) => ({ b, solo: false }))];
    for (const { b, solo } of runs) {
      const images = Array.from({ length: b }, () => new Float32Array(s.chw).fill(0.5));
      const r = await inTurn(s, () => runDetect(s, images, solo));
      // Also runs the decoder once: an output whose shape disagrees with model.json fails here, at
      // load time, instead of on every request.
      decodeJobs(s.layout, r.data, r.dims, images.map(() => job));
    }
    return null;
  }
  // Other kinds (generators): shapes come from the graph; symbolic dims are taken as the batch size
  // when leading, 1 elsewhere. That is a guess, so a failure here is reported, not fatal.
  try {
    for (const b of m.batches) {
      const feeds: Record<string, ort.Tensor> = {};
      for (const inp of s.inputs) {
        const dims = inp.shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? b : 1));
        const t = zeros(inp.type, dims);
        if (!t) return `input ${inp.name} of type ${inp.type}: not warmed`;
        feeds[inp.name] = t;
      }
      await inTurn(s, () => s.session.run(feeds));
    }
  } catch (e) {
    return firstLine(e);
  }
  return null;
}

async function infer(m: InferRequest): Promise<InferReply> {
  const s = get(m.modelId);
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(m.inputs)) feeds[name] = new ort.Tensor(t.type, t.data as never, t.dims);
  const t0 = performance.now();
  const out = await inTurn(s, () => s.session.run(feeds));
  const inferMs = performance.now() - t0;
  const outputs: Record<string, RawTensor> = {};
  for (const [name, t] of Object.entries(out)) {
    outputs[name] = { type: t.type as RawTensor['type'], dims: [...t.dims], data: t.data as RawTensor['data'] };
  }
  return { outputs, inferMs };
}

async function release(modelId: number): Promise<null> {
  const s = sessions.get(modelId);
  sessions.delete(modelId);
  if (s) await Promise.all([s.session.release(), s.solo?.release()]);
  return null;
}

function serialize(e: unknown): SerializedError {
  if (e instanceof PinholeError) return { message: e.message, code: e.code };
  return { message: firstLine(e) };
}

async function handle(m: WorkerRequest): Promise<void> {
  let value: unknown;
  let transfer: ArrayBuffer[] = [];
  try {
    switch (m.op) {
      case 'load': value = await load(m); break;
      case 'solo': value = await addSolo(m); break;
      case 'warm': value = await warm(m); break;
      case 'runDetect': {
        // the inputs are done with once the batch ran: back to the runtime's pool, without a copy
        const r = await detectBatch(m);
        value = { ...r, tensors: m.jobs.map((j) => j.tensor) } satisfies DetectWireReply;
        transfer = [...new Set(m.jobs.map((j) => j.tensor.buffer as ArrayBuffer))];
        break;
      }
      case 'runInfer': {
        const r = await infer(m);
        value = r;
        transfer = [...new Set(Object.values(r.outputs).map((t) => t.data.buffer as ArrayBuffer))];
        break;
      }
      case 'release': value = await release(m.modelId); break;
    }
  } catch (e) {
    parentPort!.postMessage({ id: m.id, ok: false, error: serialize(e) } satisfies WorkerReply);
    return;
  }
  try {
    parentPort!.postMessage({ id: m.id, ok: true, value } satisfies WorkerReply, transfer);
  } catch {
    // a buffer ORT does not let go of: send a copy instead
    parentPort!.postMessage({ id: m.id, ok: true, value } satisfies WorkerReply);
  }
}

parentPort!.on('message', (m: WorkerRequest) => { void handle(m); });
