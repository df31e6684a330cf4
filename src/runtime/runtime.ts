// The runtime the server and the CLI stand on: a registry of model folders (each loaded in isolation),
// ONNX Runtime sessions in worker threads, a dynamic batcher per model, preprocessing with sharp and
// decoding with src/vision. One object, one code path for HTTP, WebSocket and `pinhole detect`.
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { PinholeError } from '../errors.ts';
import type { Manifest, ModelKind } from '../manifest.ts';
import { Batcher, type Lane } from './batcher.ts';
import { Engine } from './engine.ts';
import { checkGanManifest, generateImage, sampleImages, type GeneratedImage, type GenerateRequest, type SampleRequest } from './generate.ts';
import { listModelFolders, readModelFolder } from './folder.ts';
import { validateDetectParams } from './params.ts';
import { isDetector } from './post.ts';
import { preprocess } from './preprocess.ts';
import type {
  DetectionResponse, DetectOptions, DetectParams, ModelInfo, ModelSignature, ModelStatus, RawTensor, RuntimeLogger,
  RuntimeObserver, RuntimeOptions,
} from './types.ts';

export const DEFAULTS = { maxBatch: 4, batchDelayMs: 2, queueLimit: 64 } as const;

interface Entry {
  name: string;
  dir: string;
  status: ModelStatus;
  error?: string;
  /** last manifest read, kept for ModelInfo even when the model failed to load */
  manifest?: Manifest;
  /** the serving version */
  lane?: Lane;
  /** reloads of one model run one after another */
  chain: Promise<unknown>;
}

const stderrLogger: RuntimeLogger = {
  info: () => {},
  warn: (m) => process.stderr.write(`pinhole: ${m}\n`),
  error: (m) => process.stderr.write(`pinhole: ${m}\n`),
};

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const DATATYPE: Record<string, string> = { float32: 'FP32', int64: 'INT64', int32: 'INT32', uint8: 'UINT8', bool: 'BOOL', float16: 'FP16', float64: 'FP64', int8: 'INT8', string: 'BYTES' };

const ARRAY_OF: Record<RawTensor['type'], Function> = {
  float32: Float32Array, int64: BigInt64Array, int32: Int32Array, uint8: Uint8Array, bool: Uint8Array,
};

function checkOptions(o: RuntimeOptions): void {
  const int = (v: number | undefined, name: string, lo: number) => {
    if (v !== undefined && (!Number.isInteger(v) || v < lo)) throw new Error(`${name} must be an integer >= ${lo}, got ${v}`);
  };
  int(o.maxBatch, 'maxBatch', 1);
  int(o.queueLimit, 'queueLimit', 1);
  int(o.workers, 'workers', 1);
  int(o.intraOpThreads, 'intraOpThreads', 1);
  int(o.maxInputPixels, 'maxInputPixels', 1);
  if (o.batchDelayMs !== undefined && !(Number.isFinite(o.batchDelayMs) && o.batchDelayMs >= 0)) {
    throw new Error(`batchDelayMs must be a number >= 0, got ${o.batchDelayMs}`);
  }
}

export class Runtime {
  private readonly entries = new Map<string, Entry>();
  private readonly batcher: Batcher;
  /** model.onnx bytes per live version, kept to rebuild the session if a worker has to be restarted */
  private readonly modelBytes = new Map<number, Uint8Array>();
  private readonly releases = new Set<Promise<void>>();
  private readonly observer: RuntimeObserver;
  private readonly log: RuntimeLogger;
  private readonly maxBatch: number;
  private active = 0;
  private idleWaiters: Array<() => void> = [];
  private closing = false;
  private closed?: Promise<void>;
  private watcher?: FSWatcher;
  private readonly debounce = new Map<string, NodeJS.Timeout>();

  private constructor(private readonly o: RuntimeOptions, private readonly engine: Engine, log: RuntimeLogger) {
    this.log = log;
    this.observer = o.observer ?? {};
    this.maxBatch = o.maxBatch ?? DEFAULTS.maxBatch;
    this.batcher = new Batcher(engine, {
      maxBatch: this.maxBatch,
      batchDelayMs: o.batchDelayMs ?? DEFAULTS.batchDelayMs,
      queueLimit: o.queueLimit ?? DEFAULTS.queueLimit,
    }, this.observer);
    this.batcher.onDrained = (lane) => {
      const p = this.engine.release(lane.v).catch((e) => this.log.warn(`releasing ${lane.v.name}: ${message(e)}`));
      this.modelBytes.delete(lane.v.vid);
      this.releases.add(p);
      void p.finally(() => this.releases.delete(p));
    };
    engine.pool.onReady = () => this.batcher.pump();
    engine.pool.onRespawn = async (w) => {
      for (const e of this.entries.values()) {
        const bytes = e.lane && this.modelBytes.get(e.lane.v.vid);
        if (e.lane && bytes) await this.engine.reloadInto(w, e.lane.v, bytes, this.o.warmup !== false);
      }
    };
  }

  /** Loads every model folder under modelsDir; resolves once each is ready or has failed. */
  static async create(o: RuntimeOptions): Promise<Runtime> {
    checkOptions(o);
    const log = o.log ?? stderrLogger;
    let names = await listModelFolders(o.modelsDir);
    if (o.only) {
      const missing = o.only.filter((n) => !names.includes(n));
      if (missing.length) throw new Error(`no model folder ${missing.map((n) => join(o.modelsDir, n)).join(', ')}`);
      names = [...o.only];
    }
    const engine = await Engine.start({ eps: o.eps, workers: o.workers, intraOpThreads: o.intraOpThreads, spinning: o.intraOpSpinning, log });
    for (let i = 0; i < engine.workers; i++) engine.pool.markReady(i);
    const rt = new Runtime(o, engine, log);
    await Promise.all(names.map((n) => rt.reload(n)));
    if (o.watch) rt.startWatch();
    return rt;
  }

  get threads(): { workers: number; intraOpThreads: number } {
    return { ...this.engine.plan };
  }

  /** Per model: live versions (2 while a replaced one drains), requests waiting, batches running. */
  stats(): Record<string, { versions: number; queued: number; running: number }> {
    return this.batcher.stats();
  }

  models(): ModelInfo[] {
    return [...this.entries.values()].sort((a, b) => a.name.localeCompare(b.name)).map((e) => this.info(e));
  }

  model(name: string): ModelInfo | undefined {
    const e = this.entries.get(name);
    return e && this.info(e);
  }

  /** First ready model of `kind` (by name), or the first ready detector when no kind is given. */
  defaultModel(kind?: ModelKind): ModelInfo | undefined {
    return this.models().find((m) => m.status === 'ready' && (kind ? m.kind === kind : isDetector({ kind: m.kind } as Manifest)));
  }

  /** Tensor names, KServe v2 datatypes and shapes of a ready model. */
  signature(name: string): ModelSignature | undefined {
    const lane = this.entries.get(name)?.lane;
    if (!lane) return undefined;
    const conv = (t: { name: string; type: string; shape: Array<number | string> }) => ({
      name: t.name,
      datatype: DATATYPE[t.type] ?? t.type.toUpperCase(),
      shape: t.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)),
    });
    return { inputs: lane.v.inputs.map(conv), outputs: lane.v.outputs.map(conv) };
  }

  private info(e: Entry): ModelInfo {
    const m = e.lane?.v.manifest ?? e.manifest;
    const info: ModelInfo = { name: e.name, dir: e.dir, status: e.status };
    if (e.error) info.error = e.error;
    if (m) {
      info.kind = m.kind;
      info.input = m.input;
      info.classes = m.names.length;
      info.names = m.names;
      info.source = m.source;
      if (m.metrics) info.metrics = m.metrics;
    }
    if (e.lane) {
      info.ep = e.lane.v.ep;
      info.maxBatch = e.lane.v.maxBatch;
    }
    return info;
  }

  private notify(e: Entry): void {
    this.observer.onModelStatus?.(this.info(e));
  }

  private lane(name: string): Lane {
    if (this.closing) throw new PinholeError('model_not_ready', 'the server is shutting down');
    const e = this.entries.get(name);
    if (!e) throw new PinholeError('unknown_model', `unknown model "${name}"`);
    if (!e.lane) {
      throw new PinholeError('model_not_ready', e.status === 'loading'
        ? `model "${name}" is still loading` : `model "${name}" failed to load: ${e.error}`);
    }
    return e.lane;
  }

  private deadline(t0: number, o: DetectOptions): number {
    if (o.deadlineMs === undefined) return Infinity;
    if (!Number.isFinite(o.deadlineMs)) throw new PinholeError('bad_parameter', 'deadline must be a finite time');
    return t0 + (o.deadlineMs - Date.now());
  }

  private enter(): void {
    this.active++;
  }

  private leave(): void {
    if (--this.active === 0) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }

  /**
   * Detects objects in one encoded image. Errors are PinholeErrors: unknown_model, model_not_ready,
   * bad_parameter, bad_image, too_large, overloaded (with retryAfter), timeout.
   */
  async detect(model: string, image: Uint8Array, params: DetectParams = {}, opts: DetectOptions = {}): Promise<DetectionResponse> {
    const t0 = performance.now();
    const lane = this.lane(model);
    const m = lane.v.manifest;
    if (!isDetector(m)) throw new PinholeError('bad_parameter', `model "${model}" is a ${m.kind} model, not a detector`);
    const p = validateDetectParams(params, m.names.length);
    const deadline = this.deadline(t0, opts);
    if (deadline <= t0) throw new PinholeError('timeout', 'request deadline already passed');
    this.batcher.reserve(lane);
    this.enter();
    try {
      let pre;
      try {
        pre = await preprocess(image, m.input, m.preprocess, { maxInputPixels: this.o.maxInputPixels });
      } catch (e) {
        this.batcher.unreserve(lane);
        throw e;
      }
      const decode = performance.now() - t0;
      const size = { width: pre.width, height: pre.height };
      const r = await this.batcher.detect(lane, pre.data, size, p, deadline, true);
      return {
        model,
        image: size,
        detections: r.detections,
        timing_ms: { decode: round(decode), queue: round(r.timing.queueMs), infer: round(r.timing.inferMs), post: round(r.timing.postMs) },
      };
    } finally {
      this.leave();
    }
  }

  /** Runs the model on raw tensors (KServe v2 infer). Input buffers may be transferred to a worker. */
  async infer(model: string, inputs: Record<string, RawTensor>, opts: DetectOptions = {}): Promise<Record<string, RawTensor>> {
    const t0 = performance.now();
    const lane = this.lane(model);
    checkInputs(lane, inputs);
    const deadline = this.deadline(t0, opts);
    this.enter();
    try {
      return (await this.batcher.infer(lane, inputs, deadline)).outputs;
    } finally {
      this.leave();
    }
  }

  /** Text to image with a stackgan model (generate.ts); errors are PinholeErrors like detect's. */
  async generate(model: string, req: GenerateRequest): Promise<GeneratedImage> {
    return generateImage(this.lane(model).v.manifest, (inputs) => this.infer(model, inputs), req);
  }

  /** Unconditional samples of a wgan model, a grid when n > 1 (generate.ts). */
  async sample(model: string, req: SampleRequest = {}): Promise<GeneratedImage> {
    return sampleImages(this.lane(model).v.manifest, (inputs) => this.infer(model, inputs), req);
  }

  /**
   * (Re)loads one model folder: the new version is created and warmed beside the old one, then swapped
   * in; requests already accepted finish on the version they started on, which is released after.
   * A failed reload leaves the previous version serving (ModelInfo.error says why).
   */
  reload(name: string): Promise<ModelInfo> {
    if (this.closing) return Promise.reject(new PinholeError('model_not_ready', 'the runtime is shutting down'));
    if (!name || name.startsWith('.') || name.includes('/') || name.includes(sep)) {
      return Promise.reject(new PinholeError('unknown_model', `bad model name "${name}"`));
    }
    let e = this.entries.get(name);
    if (!e) {
      e = { name, dir: join(this.o.modelsDir, name), status: 'loading', chain: Promise.resolve() };
      this.entries.set(name, e);
    }
    const entry = e;
    const run = entry.chain.then(() => this.doReload(entry));
    entry.chain = run.catch(() => {});
    return run;
  }

  private async doReload(e: Entry): Promise<ModelInfo> {
    const exists = await stat(e.dir).then((s) => s.isDirectory(), () => false);
    if (!exists) {
      if (this.entries.get(e.name) === e) this.entries.delete(e.name);
      if (e.lane) this.batcher.retire(e.lane);
      e.lane = undefined;
      e.status = 'error';
      e.error = 'model folder not found';
      this.log.warn(`model ${e.name}: folder ${e.dir} is gone; unloaded`);
      this.notify(e);
      throw new PinholeError('unknown_model', `unknown model "${e.name}" (no folder ${e.dir})`);
    }
    if (!e.lane) {
      e.status = 'loading';
      this.notify(e);
    }
    try {
      const files = await readModelFolder(e.dir);
      e.manifest = files.manifest;
      checkGanManifest(files.manifest);
      const v = await this.engine.load(e.name, e.dir, files.manifest, files.bytes, this.maxBatch, this.o.warmup !== false);
      if (this.closing) {
        await this.engine.release(v);
        throw new Error('runtime closed during load');
      }
      this.modelBytes.set(v.vid, files.bytes);
      const old = e.lane;
      e.lane = this.batcher.addLane(v);
      e.status = 'ready';
      e.error = undefined;
      if (old) this.batcher.retire(old);
      if (files.manifest.name !== e.name) this.log.info(`model folder ${e.name} holds model.json name "${files.manifest.name}"; serving it as "${e.name}"`);
    } catch (err) {
      const msg = message(err);
      if (e.lane) {
        e.error = `reload failed, previous version still serving: ${msg}`;
      } else {
        e.status = 'error';
        e.error = msg;
      }
      this.log.error(`model ${e.name}: ${e.error}`);
    }
    this.notify(e);
    return this.info(e);
  }

  private startWatch(): void {
    try {
      this.watcher = watch(this.o.modelsDir, { recursive: true }, (_ev, file) => {
        if (!file) return;
        const name = String(file).split(sep)[0];
        if (!name || name.startsWith('.')) return;
        clearTimeout(this.debounce.get(name));
        // writers touch a file several times: reload once things are quiet
        this.debounce.set(name, setTimeout(() => {
          this.debounce.delete(name);
          if (this.closing || (this.o.only && !this.o.only.includes(name))) return;
          if (!this.entries.has(name)) {
            void stat(join(this.o.modelsDir, name)).then((s) => { if (s.isDirectory()) return this.reload(name); }, () => {}).catch(() => {});
            return;
          }
          this.reload(name).catch(() => {});
        }, 300));
      });
      this.watcher.on('error', (err) => this.log.warn(`watching ${this.o.modelsDir}: ${err.message}`));
    } catch (err) {
      this.log.warn(`cannot watch ${this.o.modelsDir}: ${message(err)}; use reload instead`);
    }
  }

  /**
   * Graceful stop: new requests are refused, everything accepted finishes (queues are flushed without
   * waiting for batches to fill), then sessions are released and the workers end.
   */
  close(): Promise<void> {
    if (this.closed) return this.closed;
    this.closing = true;
    this.closed = (async () => {
      this.watcher?.close();
      for (const t of this.debounce.values()) clearTimeout(t);
      this.debounce.clear();
      this.batcher.flush = true;
      this.batcher.pump();
      if (this.active > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
      await Promise.allSettled([...this.entries.values()].map((e) => e.chain));
      for (const e of this.entries.values()) {
        if (e.lane) this.batcher.retire(e.lane);
        e.lane = undefined;
      }
      this.batcher.stop();
      await Promise.allSettled([...this.releases]);
      await this.engine.close();
    })();
    return this.closed;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function checkInputs(lane: Lane, inputs: Record<string, RawTensor>): void {
  const bad = (msg: string) => new PinholeError('bad_request', msg);
  if (!inputs || typeof inputs !== 'object') throw bad('inputs must be an object of tensors');
  const metas = lane.v.inputs;
  for (const name of Object.keys(inputs)) {
    if (!metas.some((m) => m.name === name)) throw bad(`model "${lane.v.name}" has no input "${name}" (inputs: ${metas.map((m) => m.name).join(', ')})`);
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
}
