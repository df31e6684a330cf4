// The runtime the server and the CLI stand on: the model folders (registry.ts), ONNX Runtime sessions
// in worker threads (sessions.ts), a dynamic batcher (batcher.ts), preprocessing with sharp and
// decoding with src/vision. One object, one code path for HTTP, WebSocket and `pinhole detect`.
//
// The door: resolveDetect() checks a detect request once, against the model's manifest (which model,
// is it a detector, every parameter), and runDetect() turns it into a job (tensor, box frame, resolved
// parameters) that the batcher and the worker take as it is.
import { join } from 'node:path';
import { PinholeError } from '../errors.ts';
import { isDetector, type ModelKind } from '../manifest.ts';
import { resolveParams } from '../vision/params.ts';
import type { DetectParams, ResolvedParams } from '../vision/types.ts';
import type { Tensors } from './adapters.ts';
import { Batcher } from './batcher.ts';
import { rampUp, whenQuiet } from './ramp-up.ts';
import { allInt8, listModelFolders } from './folder.ts';
import { releaseJpegHandles } from './jpeg-turbo.ts';
import { defaultDecodeLanes, Lanes } from './lanes.ts';
import {
  planGenerate, planSample, runGenerate, runSample,
  type GeneratedImage, type GeneratePlan, type GenerateRequest, type SamplePlan, type SampleRequest, type StackGanSpec,
} from './generate.ts';
import { pixelLayout, preprocess } from './preprocess.ts';
import type { DetectJob } from './protocol.ts';
import type { RawImage } from './raw-image.ts';
import { ModelRegistry, type Serving } from './registry.ts';
import { ACCEL_MAX_BATCH, Sessions, type LoadedModel, type ThreadPlan } from './sessions.ts';
import type {
  DetectionResponse, DetectOptions, ModelInfo, ModelSignature, RawTensor, RuntimeLogger, RuntimeOptions,
} from './types.ts';

/**
 * maxBatch and batchDelayMs: on an accelerator (CUDA); on CPU the defaults are 4 (1 for an int8 model)
 * and no delay (sessions.ts cpuMaxBatch, defaultBatchDelayMs).
 */
export const DEFAULTS = { maxBatch: ACCEL_MAX_BATCH, batchDelayMs: 2, queueLimit: 64 } as const;

/** A detect request resolved by the door: which model, and its parameters checked and completed. */
export interface DetectPlan {
  /** the model's name (the first ready detector when the request named none) */
  readonly model: string;
  readonly params: ResolvedParams;
  /** the parameters as asked, to resolve again against a model reloaded since */
  readonly asked: DetectParams;
}

const stderrLogger: RuntimeLogger = {
  info: () => {},
  warn: (m) => process.stderr.write(`pinhole: ${m}\n`),
  error: (m) => process.stderr.write(`pinhole: ${m}\n`),
};

function checkOptions(o: RuntimeOptions): void {
  const int = (v: number | undefined, name: string, lo: number) => {
    if (v !== undefined && (!Number.isInteger(v) || v < lo)) throw new Error(`${name} must be an integer >= ${lo}, got ${v}`);
  };
  int(o.maxBatch, 'maxBatch', 1);
  int(o.queueLimit, 'queueLimit', 1);
  int(o.workers, 'workers', 1);
  int(o.intraOpThreads, 'intraOpThreads', 1);
  int(o.soloThreads, 'soloThreads', 0);
  int(o.decodeLanes, 'decodeLanes', 1);
  int(o.maxInputPixels, 'maxInputPixels', 1);
  if (o.batchDelayMs !== undefined && !(Number.isFinite(o.batchDelayMs) && o.batchDelayMs >= 0)) {
    throw new Error(`batchDelayMs must be a number >= 0, got ${o.batchDelayMs}`);
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

export class Runtime {
  private readonly batcher: Batcher;
  private readonly decodes: Lanes;
  private readonly registry: ModelRegistry;
  /** the loaded model each plan was resolved against */
  private readonly planModels = new WeakMap<DetectPlan, LoadedModel>();
  private active = 0;
  private idleWaiters: Array<() => void> = [];
  private closed?: Promise<void>;
  private ramp?: Promise<void>;
  /** close() was called */
  private stopping = false;

  private constructor(private readonly options: RuntimeOptions, private readonly sessions: Sessions, private readonly log: RuntimeLogger) {
    const observer = options.observer ?? {};
    this.decodes = new Lanes(options.decodeLanes ?? defaultDecodeLanes());
    this.batcher = new Batcher(sessions.workers, (w) => sessions.pool.isReady(w), {
      maxBatch: options.maxBatch ?? DEFAULTS.maxBatch,
      batchDelayMs: options.batchDelayMs ?? DEFAULTS.batchDelayMs,
      queueLimit: options.queueLimit ?? DEFAULTS.queueLimit,
    }, observer);
    this.registry = new ModelRegistry({
      modelsDir: options.modelsDir, only: options.only, maxBatch: options.maxBatch, batchDelayMs: options.batchDelayMs, warmup: options.warmup !== false,
    }, sessions, this.batcher, observer, log);
    sessions.pool.onReady = () => this.batcher.pump();
  }

  /** Loads every model folder under modelsDir; resolves once each is ready or has failed. */
  static async create(o: RuntimeOptions): Promise<Runtime> {
    const { runtime, loaded } = await Runtime.start(o);
    await loaded;
    return runtime;
  }

  /**
   * The worker threads are up and every model folder has been handed to them (status "loading"); `loaded`
   * resolves once each is ready or has failed. Sessions are created and warmed on the workers' threads,
   * so the caller's thread is free meanwhile: `pinhole serve` builds its HTTP app in that time.
   */
  static async start(o: RuntimeOptions): Promise<{ runtime: Runtime; loaded: Promise<void> }> {
    checkOptions(o);
    const log = o.log ?? stderrLogger;
    let names = await listModelFolders(o.modelsDir);
    if (o.only) {
      const missing = o.only.filter((n) => !names.includes(n));
      if (missing.length) throw new Error(`no model folder ${missing.map((n) => join(o.modelsDir, n)).join(', ')}`);
      names = [...o.only];
    }
    const sessions = await Sessions.start({
      eps: o.eps, workers: o.workers, intraOpThreads: o.intraOpThreads, soloThreads: o.soloThreads, spinning: o.intraOpSpinning, cpuMemArena: o.cpuMemArena,
      int8Only: await allInt8(o.modelsDir, names), winograd: o.winograd, ortCache: o.ortCache, rampUp: o.rampUp, log,
    });
    for (let i = 0; i < sessions.workers; i++) sessions.pool.markReady(i);
    const rt = new Runtime(o, sessions, log);
    const loaded = Promise.all(names.map((n) => rt.registry.reload(n))).then(() => {
      if (o.watch) rt.registry.startWatch();
    });
    // marked handled here: the caller awaits it later, after work of its own
    loaded.catch(() => {});
    await rt.registry.handedOff();
    return { runtime: rt, loaded };
  }

  /**
   * The rest of the thread plan after a start with `rampUp` (the other workers, the solo sessions); the
   * models serve meanwhile. Resolves once it is up; idempotent, and at once without `rampUp`.
   */
  rampUp(): Promise<void> {
    this.ramp ??= this.rampNow();
    return this.ramp;
  }

  private rampNow(): Promise<void> {
    return rampUp(this.sessions, this.registry, this.options.warmup !== false, this.log);
  }

  /**
   * rampUp once no request has run for `quietMs` (the first requests after listening keep the cores), at once
   * when a request has had to wait for a worker, at the latest after `maxWaitMs` (ramp-up.ts whenQuiet).
   */
  rampUpWhenQuiet(quietMs = 100, maxWaitMs = 500): Promise<void> {
    const waits = this.batcher.waits;
    this.ramp ??= whenQuiet(() => this.batcher.idle, () => this.batcher.waits > waits, () => this.stopping, quietMs, maxWaitMs)
      .then(() => (this.stopping ? undefined : this.rampNow()));
    return this.ramp;
  }

  /** Every worker and solo session of the plan serves (false while a ramp-up is to come or under way). */
  get planUp(): boolean {
    return !this.sessions.partial;
  }

  get threads(): ThreadPlan {
    return { ...this.sessions.plan };
  }

  /** Detection input tensors allocated, and recycled ones handed out again (tensor-pool.ts). */
  get tensorBuffers(): { created: number; reused: number } {
    return this.sessions.tensors.counts;
  }

  /** Per model: live versions (2 while a replaced one drains), requests waiting, batches running. */
  stats(): Record<string, { versions: number; queued: number; running: number }> {
    return this.batcher.stats();
  }

  models(): ModelInfo[] {
    return this.registry.models();
  }

  model(name: string): ModelInfo | undefined {
    return this.registry.model(name);
  }

  /** First ready model of `kind` (by name), or the first ready detector when no kind is given. */
  defaultModel(kind?: ModelKind): ModelInfo | undefined {
    return this.registry.defaultModel(kind);
  }

  /** Tensor names, ONNX Runtime types and shapes (-1 for a dynamic dimension) of a ready model. */
  signature(name: string): ModelSignature | undefined {
    let model: LoadedModel;
    try {
      model = this.registry.serving(name).model;
    } catch {
      return undefined;
    }
    const conv = (t: { name: string; type: string; shape: Array<number | string> }) => ({
      name: t.name, type: t.type, shape: t.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)),
    });
    return { inputs: model.inputs.map(conv), outputs: model.outputs.map(conv) };
  }

  /** The model a request names, or the first ready one of the kinds asked (else the first one at all, to say why it cannot serve). */
  private modelName(model: string | undefined, fits: (kind: ModelKind) => boolean, none: string): string {
    if (model !== undefined) return model;
    const all = this.registry.models().filter((m) => m.kind !== undefined && fits(m.kind));
    const pick = all.find((m) => m.status === 'ready') ?? all[0];
    if (!pick) throw new PinholeError('unknown_model', none);
    return pick.name;
  }

  /**
   * The door, first half: which model (unknown_model, model_not_ready), is it a detector, and every
   * parameter against its manifest (bad_parameter). Cheap and synchronous: a stream resolves once per
   * connection.
   */
  resolveDetect(model: string | undefined, params: DetectParams = {}): DetectPlan {
    const name = this.modelName(model, (kind) => isDetector({ kind }), 'no detection model is loaded; name one with "model" (see the list of models)');
    const loaded = this.registry.serving(name).model;
    const m = loaded.manifest;
    if (!isDetector(m)) throw new PinholeError('bad_parameter', `model "${name}" is a ${m.kind} model, not a detector`);
    const plan: DetectPlan = { model: name, params: resolveParams(m, params), asked: params };
    this.planModels.set(plan, loaded);
    return plan;
  }

  /** The serving version for a plan, resolving the plan again if its model was reloaded since. */
  private servingFor(plan: DetectPlan): { serving: Serving; plan: DetectPlan } {
    const serving = this.registry.serving(plan.model);
    if (this.planModels.get(plan) === serving.model) return { serving, plan };
    return { serving, plan: this.resolveDetect(plan.model, plan.asked) };
  }

  private deadline(t0: number, o: DetectOptions): number {
    if (o.deadlineMs === undefined) return Infinity;
    if (!Number.isFinite(o.deadlineMs)) throw new PinholeError('bad_parameter', 'deadline must be a finite time');
    const deadline = t0 + (o.deadlineMs - Date.now());
    if (deadline <= t0) throw new PinholeError('timeout', 'request deadline already passed');
    return deadline;
  }

  private async tracked<T>(work: () => Promise<T>): Promise<T> {
    this.active++;
    try {
      return await work();
    } finally {
      if (--this.active === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const f of waiters) f();
      }
    }
  }

  /**
   * The door, second half: decodes one encoded image (or takes decoded pixels, a video frame) into the
   * plan's job and queues it. Errors are
   * PinholeErrors: bad_image, too_large, overloaded (with retryAfter), timeout, model_not_ready.
   */
  async runDetect(resolved: DetectPlan, image: Uint8Array | RawImage, opts: DetectOptions = {}): Promise<DetectionResponse> {
    const t0 = performance.now();
    const { serving, plan } = this.servingFor(resolved);
    const deadline = this.deadline(t0, opts);
    const ticket = this.batcher.admit(serving.queue);
    return this.tracked(async () => {
      const m = serving.model.manifest;
      let pre;
      try {
        // a lone request (nothing else in flight) decodes on this thread where it can: no hand-off to wait for
        const inline = this.active === 1;
        pre = await this.decodes.run(() => preprocess(image, m.input, pixelLayout(m), {
          maxInputPixels: this.options.maxInputPixels, alloc: (n) => this.sessions.tensors.take(n), inline,
        }));
      } catch (e) {
        ticket.cancel();
        throw e;
      }
      const decode = performance.now() - t0;
      const size = { width: pre.width, height: pre.height };
      // the job: tensor, the frame of the geometry preprocessing used, the parameters as resolved
      const job: DetectJob = { tensor: pre.data, frame: pre.frame, params: plan.params };
      const { result, timing } = await ticket.submit(serving.detection!, job, deadline);
      return {
        model: plan.model,
        image: size,
        detections: result,
        timing_ms: { decode: round(decode), queue: round(timing.queueMs), infer: round(timing.inferMs), post: round(timing.postMs) },
      };
    });
  }

  /** Both halves of the door at once: detects objects in one encoded image or decoded frame. */
  async detect(model: string | undefined, image: Uint8Array | RawImage, params: DetectParams = {}, opts: DetectOptions = {}): Promise<DetectionResponse> {
    return this.runDetect(this.resolveDetect(model, params), image, opts);
  }

  /** Runs the model on raw tensors (KServe v2 infer). Input buffers may be transferred to a worker. */
  async infer(model: string, inputs: Record<string, RawTensor>, opts: DetectOptions = {}): Promise<Record<string, RawTensor>> {
    const serving = this.registry.serving(model);
    checkInputs(serving.model, inputs);
    return this.runInference(serving, inputs, opts);
  }

  /** Raw tensors already checked (by infer's door, or made by a generation plan) through the batcher. */
  private runInference(serving: Serving, inputs: Record<string, RawTensor>, opts: DetectOptions): Promise<Record<string, RawTensor>> {
    const t0 = performance.now();
    const deadline = this.deadline(t0, opts);
    const ticket = this.batcher.admit(serving.queue);
    return this.tracked(async () => (await ticket.submit<Tensors, Tensors>(serving.inference, inputs, deadline)).result);
  }

  /**
   * The generation door: which stackgan model (the named one or the first ready), and the request
   * against it (stage, text in its vocabulary, seed), once; runGenerate trusts the plan.
   */
  resolveGenerate(model: string | undefined, req: GenerateRequest): GeneratePlan {
    const name = this.modelName(model, (k) => k === 'stackgan', 'no stackgan model is loaded for text-to-image generation');
    return planGenerate(name, this.registry.serving(name).model.manifest, req);
  }

  /** The same for unconditional samples of a wgan model (n, seed). */
  resolveSample(model: string | undefined, req: SampleRequest = {}): SamplePlan {
    const name = this.modelName(model, (k) => k === 'wgan', 'no wgan model is loaded for sampling');
    return planSample(name, this.registry.serving(name).model.manifest, req);
  }

  /** Text to image (generate.ts); a model reloaded since the plan is planned again, same seed. */
  async runGenerate(plan: GeneratePlan, opts: DetectOptions = {}): Promise<GeneratedImage> {
    const serving = this.registry.serving(plan.model);
    const p = serving.model.manifest === plan.manifest ? plan : this.resolveGenerate(plan.model, { ...plan.asked, seed: plan.seed });
    return runGenerate(p, (inputs) => this.runInference(serving, inputs, opts));
  }

  /** Unconditional samples, a grid when n > 1 (generate.ts). */
  async runSample(plan: SamplePlan, opts: DetectOptions = {}): Promise<GeneratedImage> {
    const serving = this.registry.serving(plan.model);
    const p = serving.model.manifest === plan.manifest ? plan : this.resolveSample(plan.model, { ...plan.asked, seed: plan.seed });
    return runSample(p, (inputs) => this.runInference(serving, inputs, opts));
  }

  /** Both halves of the generation door at once. */
  async generate(model: string | undefined, req: GenerateRequest, opts: DetectOptions = {}): Promise<GeneratedImage> {
    return this.runGenerate(this.resolveGenerate(model, req), opts);
  }

  async sample(model: string | undefined, req: SampleRequest = {}, opts: DetectOptions = {}): Promise<GeneratedImage> {
    return this.runSample(this.resolveSample(model, req), opts);
  }

  /**
   * (Re)loads one model folder: the new version is created and warmed beside the old one, then swapped
   * in; requests already accepted finish on the version they started on, which is released after.
   * A failed reload leaves the previous version serving (ModelInfo.error says why).
   */
  reload(name: string): Promise<ModelInfo> {
    return this.registry.reload(name);
  }

  /**
   * Graceful stop: new requests are refused, everything accepted finishes (queues are flushed without
   * waiting for batches to fill), then sessions are released and the workers end.
   */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.stopping = true;
      // a ramp-up under way finishes first: it starts workers and sessions that close must then end
      await this.ramp;
      this.registry.closing = true;
      this.batcher.flush = true;
      this.batcher.pump();
      if (this.active > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
      await this.registry.close();
      this.batcher.stop();
      await this.registry.released();
      await this.sessions.close();
      releaseJpegHandles();
    })();
    return this.closed;
  }
}

const ARRAY_OF: Record<RawTensor['type'], Function> = {
  float32: Float32Array, int64: BigInt64Array, int32: Int32Array, uint8: Uint8Array, bool: Uint8Array,
};

/** Raw tensors against the model's inputs: names, types, ranks, fixed dimensions, value counts. */
function checkInputs(model: LoadedModel, inputs: Record<string, RawTensor>): void {
  const bad = (msg: string) => new PinholeError('bad_request', msg);
  if (!inputs || typeof inputs !== 'object') throw bad('inputs must be an object of tensors');
  const metas = model.inputs;
  for (const name of Object.keys(inputs)) {
    if (!metas.some((m) => m.name === name)) throw bad(`model "${model.name}" has no input "${name}" (inputs: ${metas.map((m) => m.name).join(', ')})`);
  }
  for (const m of metas) {
    const t = inputs[m.name];
    if (!t) throw bad(`missing input "${m.name}"`);
    if (t.type !== m.type) throw bad(`input "${m.name}" must be ${m.type}, got ${t.type}`);
    const Arr = ARRAY_OF[t.type];
    if (!Arr || !(t.data instanceof Arr)) throw bad(`input "${m.name}": data does not match type ${t.type}`);
    if (!Array.isArray(t.dims) || t.dims.some((d) => !Number.isInteger(d) || d < 0)) throw bad(`input "${m.name}": dims must be non-negative integers`);
    if (m.shape.length && t.dims.length !== m.shape.length) throw bad(`input "${m.name}" must have rank ${m.shape.length}, got [${t.dims.join(', ')}]`);
    m.shape.forEach((d, i) => {
      if (typeof d === 'number' && d > 0 && t.dims[i] !== d) throw bad(`input "${m.name}" dimension ${i} must be ${d}, got ${t.dims[i]}`);
    });
    const n = t.dims.reduce((a, d) => a * d, 1);
    if (n !== t.data.length) throw bad(`input "${m.name}": dims [${t.dims.join(', ')}] need ${n} values, got ${t.data.length}`);
  }
  if (model.manifest.kind === 'stackgan') checkTokens(model.manifest, inputs);
}

/** Token ids index the embedding table: one outside the vocabulary would fail inside ONNX Runtime's Gather. */
function checkTokens(spec: StackGanSpec, inputs: Record<string, RawTensor>): void {
  const t = inputs[spec.inputs.tokens];
  const size = spec.text.vocabulary.length;
  if (!t) return;
  for (let i = 0; i < t.data.length; i++) {
    const id = Number(t.data[i]);
    if (!(id >= 0 && id < size)) {
      throw new PinholeError('bad_request', `input "${spec.inputs.tokens}": token id ${id} (element ${i}) is outside the vocabulary of ${size} words (0..${size - 1})`);
    }
  }
}
