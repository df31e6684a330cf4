// ONNX Runtime sessions on the worker pool: load a model into every worker (same EP everywhere), warm it
// at the batch sizes it will see, run a batch on a chosen worker, release it. No queueing here: the
// batcher decides what runs where and when.
import { availableParallelism } from 'node:os';
import type { Manifest } from '../manifest.ts';
import { parseEps, type EpName } from './ep.ts';
import type { OrtCacheOptions } from './ort-cache.ts';
import type { Spinning } from './ort-session.ts';
import { WorkerPool, type PoolLog } from './pool.ts';
import { unpackDetections } from './detections-wire.ts';
import type { DetectJob, DetectReply, DetectWireReply, InferReply, LoadReply, TensorMeta, WorkerCall } from './protocol.ts';
import { TensorPool } from './tensor-pool.ts';
import type { RawTensor } from './types.ts';

export interface ThreadPlan {
  workers: number;
  intraOpThreads: number;
  /**
   * ORT threads of worker 0's second, "solo" session, run when a lone request has every core to
   * itself (nothing else running or queued); 0 when there is none (a single worker already has them).
   */
  soloThreads: number;
}

/**
 * Default thread budget: one worker whose session has a thread per core. Measured with bench/peer.ts
 * (yolov2-tiny-voc fp32, dog.jpg, 2 cores): 1 worker x 2 threads peaked at 482 MB resident against
 * 713 MB for 2 x 1 (every worker holds its own copy of the weights and activations; the Flask + OpenCV
 * peer peaked at 636 MB), and a lone request gets every core. Throughput of 1 x 2 against 2 x 1 was within
 * the swings of the shared machine (bench/README.md). With more workers (`workers`), each gets
 * cores / workers threads and worker 0 a solo session with every core, which the batcher runs a lone
 * request on, nothing beside it: idle latency stays that of all the cores.
 *
 * `perCoreWorkers` (every model served is int8, on CPU): a worker per core by default. An int8 run gains
 * only ~1.5x from a second ORT thread (21.5-22 ms of CPU on one thread against 24-27 on two), so two
 * 1-thread sessions side by side beat one 2-thread session under load (+15-20% images/s at 4 and 16
 * connections in bench/peer.ts), while the solo session keeps a lone request on every core; the int8
 * weights are a quarter of the float ones, so the extra copies cost ~100 MB (bench/README.md, issue 20).
 */
export function threadPlan(workers?: number, intraOpThreads?: number, soloThreads?: number, perCoreWorkers = false): ThreadPlan {
  const cores = Math.max(1, availableParallelism());
  const byDefault = perCoreWorkers ? cores : 1;
  const w = Math.max(1, Math.floor(workers ?? (intraOpThreads ? cores / intraOpThreads : byDefault)));
  const t = Math.max(1, Math.floor(intraOpThreads ?? cores / w));
  const solo = Math.max(0, Math.floor(soloThreads ?? (t < cores ? cores : 0)));
  return { workers: w, intraOpThreads: t, soloThreads: solo > t ? solo : 0 };
}

/**
 * Largest batch on CPU unless asked, by the model's precision. In float32 a batch of 4 costs ORT ~10% less
 * CPU per image than 4 runs of one (yolov2-tiny-voc, 2 threads: 298 against 4 x 85 ms), and with no batch
 * delay on CPU a batch only forms from requests that were waiting anyway. An int8 graph's kernels cost the
 * same per image at batch 4 (25.1 against 25.4 ms, 1 thread; 29.7 against 29.5, 2 threads), measured
 * fewer images/s at 16 connections (13 against 17 req/s) and hold larger activations: batch 1
 * (bench/README.md, issue 20).
 */
export function cpuMaxBatch(m: Pick<Manifest, 'precision'>): number {
  return m.precision === 'int8' ? 1 : 4;
}
/** Largest batch elsewhere (CUDA) unless asked. */
export const ACCEL_MAX_BATCH = 4;
/**
 * How long a lone request waits for company while a worker is free, unless asked: none on CPU, where a
 * batch of n costs nearly n times one image, so waiting only adds latency; 2 ms on an accelerator, where
 * a batch costs little more than one image.
 */
export function defaultBatchDelayMs(ep: EpName): number {
  return ep === 'cpu' ? 0 : 2;
}

/**
 * Batch sizes to run once at load. A new shape costs ORT one slower run (allocation planning), so
 * every size the batcher can form is warmed; past 8 that grows quadratically, so only powers of two
 * and the maximum are.
 */
export function warmBatches(maxBatch: number): number[] {
  if (maxBatch <= 8) return Array.from({ length: maxBatch }, (_, i) => i + 1);
  const out: number[] = [];
  for (let b = 1; b < maxBatch; b *= 2) out.push(b);
  out.push(maxBatch);
  return out;
}

/**
 * The batch sizes a loaded model is warmed at. On CPU only batch 1 (the model's first run pays its
 * one-off costs, and checks the output against the decoder): a first run at a new batch size measured no
 * slower than the next ones there (yolov2-tiny-voc, 2 threads: batch 2 160 then 151 ms of CPU, batch 4
 * 291 then 309 ms), and warm-up runs after the server listens would hold up its first requests.
 */
function warmSizes(model: Pick<LoadedModel, 'ep' | 'maxBatch'>): number[] {
  return model.ep === 'cpu' ? [1] : warmBatches(model.maxBatch);
}

/** One version of a model folder, loaded in every worker. A reload makes a new one (a new id). */
export interface LoadedModel {
  /** tells the workers' sessions apart across reloads */
  id: number;
  name: string;
  dir: string;
  /** its model.onnx */
  file: string;
  manifest: Manifest;
  ep: EpName;
  inputs: TensorMeta[];
  outputs: TensorMeta[];
  /** largest batch this model runs (the graph may fix the batch dimension) */
  maxBatch: number;
  /** how long a lone request waits for company while a worker is free */
  batchDelayMs: number;
  /** worker 0 holds a solo session for it (CPU, and the plan has one); set later when it came with rampUp */
  solo: boolean;
  /** the convolutions its CPU sessions run as Winograd (graph-pass.ts) */
  winograd: string[];
}

export interface SessionsOptions {
  eps?: string | readonly string[];
  workers?: number;
  intraOpThreads?: number;
  /** threads of the solo session (see ThreadPlan); 0 for none */
  soloThreads?: number;
  spinning?: Spinning;
  /** ORT's CPU memory arena (default on) */
  cpuMemArena?: boolean;
  /** every model to be served is int8 (see threadPlan's perCoreWorkers; used on CPU only) */
  int8Only?: boolean;
  /** the Winograd pass on CPU float32 models (default on) */
  winograd?: boolean;
  /** keep ORT's optimized graphs on disk between starts (ort-cache.ts); off when absent */
  ortCache?: OrtCacheOptions;
  /** only the first worker starts, and models load without their solo session, until rampUp (RuntimeOptions.rampUp) */
  rampUp?: boolean;
  log: PoolLog & { info(msg: string): void };
}

export class Sessions {
  private nextId = 1;
  /** models load without their solo session: it comes with addSolo, once the server listens */
  private soloLater: boolean;
  readonly eps: EpName[];
  /** detection input tensors, recycled through the workers (runDetect gives them back) */
  readonly tensors = new TensorPool();

  private constructor(readonly pool: WorkerPool, readonly plan: ThreadPlan, eps: EpName[], private readonly log: SessionsOptions['log'], soloLater: boolean) {
    this.eps = eps;
    this.soloLater = soloLater;
  }

  static async start(o: SessionsOptions): Promise<Sessions> {
    const eps = parseEps(o.eps ?? ['cpu']);
    const plan = threadPlan(o.workers, o.intraOpThreads, o.soloThreads, (o.int8Only ?? false) && eps.every((e) => e === 'cpu'));
    // spinning off unless asked: a spinning thread holds a core that decoding (or the other sessions) need
    const init = { intraOpThreads: plan.intraOpThreads, spinning: o.spinning ?? false, cpuMemArena: o.cpuMemArena, winograd: o.winograd, ortCache: o.ortCache };
    const pool = await WorkerPool.start(plan.workers, init, o.log, o.rampUp ? 1 : plan.workers);
    return new Sessions(pool, plan, eps, o.log, (o.rampUp ?? false) && plan.soloThreads > 0);
  }

  /** Workers or solo sessions of the plan still to come (rampUp). */
  get partial(): boolean {
    return this.soloLater || this.pool.started().length < this.plan.workers;
  }

  /**
   * The solo session of a live model, made in worker 0 after the server listens (rampUp); afterwards every
   * model loads with its own. The model runs lone requests on it once it is warm.
   */
  async addSolo(model: LoadedModel, warm: boolean): Promise<void> {
    if (model.ep !== 'cpu' || this.plan.soloThreads === 0 || model.solo) return;
    model.solo = await this.pool.call<boolean>(0, {
      op: 'solo', modelId: model.id, file: model.file, eps: this.eps, manifest: model.manifest, soloThreads: this.plan.soloThreads, warm,
    });
  }

  /** Models load with their solo session from now on (rampUp made the live ones'). */
  soloFromNowOn(): void {
    this.soloLater = false;
  }

  get workers(): number {
    return this.plan.workers;
  }

  /**
   * Creates the model's session in every worker (and the solo session in worker 0) and warms it at
   * batch 1 before it serves; larger batches are warmed after, while it serves. `maxBatch` undefined:
   * cpuMaxBatch on CPU, ACCEL_MAX_BATCH on an accelerator; `batchDelayMs` undefined: defaultBatchDelayMs.
   */
  async load(name: string, dir: string, manifest: Manifest, file: string, maxBatch: number | undefined, warm: boolean,
    batchDelayMs?: number): Promise<LoadedModel> {
    const id = this.nextId++;
    // the workers started so far: one still to come loads every live model when it starts (rampUp)
    const settled = await Promise.allSettled(
      this.pool.started().map((i) => this.pool.call<LoadReply>(i, this.loadRequest(i, id, file, manifest, warm))),
    );
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    try {
      if (failed) throw failed.reason;
      const replies = settled.map((s) => (s as PromiseFulfilledResult<LoadReply>).value);
      const r = replies[0];
      for (const f of r.failed) this.log.warn(`model ${name}: execution provider ${f.ep} unavailable (${f.error}); falling back`);
      if (replies.some((x) => x.ep !== r.ep)) this.log.warn(`model ${name}: workers ended up on different providers (${replies.map((x) => x.ep).join(', ')})`);
      const fixedBatch = r.fixedBatch;
      const note = replies.find((x) => x.warmNote)?.warmNote;
      if (note) this.log.warn(`model ${name}: warm-up skipped (${note})`);
      const asked = maxBatch ?? (r.ep === 'cpu' ? cpuMaxBatch(manifest) : ACCEL_MAX_BATCH);
      const model: LoadedModel = {
        id, name, dir, file, manifest, ep: r.ep, inputs: r.inputs, outputs: r.outputs,
        maxBatch: Math.max(1, Math.min(asked, fixedBatch ?? asked)), batchDelayMs: batchDelayMs ?? defaultBatchDelayMs(r.ep), solo: r.solo,
        winograd: r.winograd ?? [],
      };
      if (warm) this.warmLater(model);
      const solo = r.solo ? `, ${this.plan.soloThreads} thread(s) for a lone request` : '';
      const wino = model.winograd.length ? `, ${model.winograd.length} conv(s) as Winograd` : '';
      this.log.info(`model ${name}: ready on ${r.ep}${wino} (batch <= ${model.maxBatch}, ${this.workers} worker(s) x ${this.plan.intraOpThreads} thread(s)${solo})`);
      return model;
    } catch (e) {
      await this.releaseId(id);
      throw e;
    }
  }

  /** `warm`: every session the worker makes runs once at batch 1 before it replies */
  private loadRequest(worker: number, modelId: number, file: string, manifest: Manifest, warm: boolean): WorkerCall {
    return { op: 'load', modelId, file, eps: this.eps, manifest, soloThreads: worker === 0 && !this.soloLater ? this.plan.soloThreads : 0, warm };
  }

  /**
   * Batch sizes past 1 (an accelerator's) are warmed after the model serves: runs on a model take turns in
   * a worker, so a request never shares the cores with a warm-up run.
   */
  private warmLater(model: LoadedModel, only?: number): void {
    const later = warmSizes(model).filter((b) => b > 1);
    if (later.length) void this.warm(model, later, only).catch((e) => this.log.warn(`model ${model.name}: warm-up failed (${(e as Error).message})`));
  }

  private async warm(model: LoadedModel, batches: number[], only?: number): Promise<void> {
    const notes = only !== undefined
      ? [await this.pool.call<string | null>(only, { op: 'warm', modelId: model.id, batches })]
      : await this.pool.all<string | null>({ op: 'warm', modelId: model.id, batches });
    const note = notes.find((n) => n);
    if (note) this.log.warn(`model ${model.name}: warm-up skipped (${note})`);
  }

  /**
   * Loads a live model into a restarted worker, from its model.onnx as it is now (a file changed since is
   * a reload's business: `--watch` makes one).
   */
  async reloadInto(worker: number, model: LoadedModel, warm: boolean): Promise<void> {
    await this.pool.call<LoadReply>(worker, this.loadRequest(worker, model.id, model.file, model.manifest, warm));
    if (warm) this.warmLater(model, worker);
  }

  private async releaseId(modelId: number): Promise<void> {
    await Promise.allSettled(this.pool.started().map((i) => this.pool.call(i, { op: 'release', modelId })));
  }

  release(model: LoadedModel): Promise<void> {
    return this.releaseId(model.id);
  }

  /**
   * A batch of detection jobs on one worker; the image tensors are transferred, not copied. `solo`: on
   * worker 0's solo session (the caller runs nothing beside it).
   */
  async runDetect(worker: number, model: LoadedModel, jobs: readonly DetectJob[], solo = false): Promise<DetectReply> {
    const r = await this.pool.call<DetectWireReply>(worker, { op: 'runDetect', modelId: model.id, jobs, solo }, jobs.map((j) => j.tensor.buffer as ArrayBuffer));
    for (const t of r.tensors ?? []) this.tensors.give(t);
    return { detections: unpackDetections(r.packed, model.manifest.names), inferMs: r.inferMs, postMs: r.postMs };
  }

  runInfer(worker: number, model: LoadedModel, inputs: Record<string, RawTensor>): Promise<InferReply> {
    const transfer = new Set<ArrayBuffer>();
    const sent: Record<string, RawTensor> = {};
    for (const [k, t] of Object.entries(inputs)) {
      const whole = t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength && t.data.buffer instanceof ArrayBuffer;
      // A view into a larger buffer (e.g. Node's Buffer pool) must not be detached: copy just its bytes.
      const data = whole && !transfer.has(t.data.buffer as ArrayBuffer) ? t.data : t.data.slice();
      transfer.add(data.buffer as ArrayBuffer);
      sent[k] = { ...t, data };
    }
    return this.pool.call<InferReply>(worker, { op: 'runInfer', modelId: model.id, inputs: sent }, [...transfer]);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
