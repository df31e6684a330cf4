// ONNX Runtime sessions on the worker pool: load a model into every worker (same EP everywhere), warm it
// at the batch sizes it will see, run a batch on a chosen worker, release it. No queueing here: the
// batcher decides what runs where and when.
import { availableParallelism } from 'node:os';
import { isDetector, type Manifest } from '../manifest.ts';
import { parseEps, type EpName } from './ep.ts';
import { WorkerPool, type PoolLog } from './pool.ts';
import type { DetectJob, DetectReply, InferReply, LoadReply, TensorMeta } from './protocol.ts';
import type { RawTensor } from './types.ts';

export interface ThreadPlan {
  workers: number;
  intraOpThreads: number;
}

/**
 * Default thread budget: one single-threaded worker per core (workers x intra-op threads = cores;
 * with more than 4 cores, 4 workers sharing them).
 * Measured with bench/runtime-threads.ts (the ceiling pipeline: sharp decode + ORT + NMS on a
 * yolov2-tiny-voc-shaped model and dog.jpg): on a quiet machine 2 workers x 1 thread and 1 x 2 give
 * the same images/s, but decoding runs concurrently with inference, and a multi-threaded session
 * stalls at every intra-op barrier when one of its threads loses its core (its partner spins):
 * under load 1 x 2 fell to 60-80 % of 2 x 1. One thread per session has no barrier to stall on.
 * The price is latency when idle (one image runs on one core, not two): pass workers: 1 for that.
 */
export function threadPlan(workers?: number, intraOpThreads?: number): ThreadPlan {
  const cores = Math.max(1, availableParallelism());
  // past 4 workers more session copies cost memory (each holds the weights) for little gain
  const w = Math.max(1, Math.floor(workers ?? (intraOpThreads ? cores / intraOpThreads : Math.min(cores, 4))));
  const t = Math.max(1, Math.floor(intraOpThreads ?? cores / w));
  return { workers: w, intraOpThreads: t };
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

/** One version of a model folder, loaded in every worker. A reload makes a new one (a new id). */
export interface LoadedModel {
  /** tells the workers' sessions apart across reloads */
  id: number;
  name: string;
  dir: string;
  manifest: Manifest;
  ep: EpName;
  inputs: TensorMeta[];
  outputs: TensorMeta[];
  /** largest batch this model runs (the graph may fix the batch dimension) */
  maxBatch: number;
}

export interface SessionsOptions {
  eps?: string | readonly string[];
  workers?: number;
  intraOpThreads?: number;
  spinning?: boolean;
  log: PoolLog & { info(msg: string): void };
}

function checkInputShape(m: Manifest, inputs: TensorMeta[]): number | undefined {
  const name = m.onnx?.input ?? inputs[0]?.name;
  const meta = inputs.find((i) => i.name === name);
  if (!meta) throw new Error(`model.onnx has no input "${name}"`);
  if (!isDetector(m)) return undefined;
  if (meta.type !== 'float32') throw new Error(`model.onnx input "${name}" is ${meta.type}, expected float32`);
  const want = [m.input.channels, m.input.height, m.input.width];
  if (meta.shape.length === 4) {
    for (let k = 0; k < 3; k++) {
      const d = meta.shape[k + 1];
      if (typeof d === 'number' && d > 0 && d !== want[k]) {
        throw new Error(`model.onnx input "${name}" is [${meta.shape.join(', ')}] but model.json input says ${m.input.channels}x${m.input.height}x${m.input.width} (CxHxW)`);
      }
    }
  } else if (meta.shape.length > 0) {
    throw new Error(`model.onnx input "${name}" has rank ${meta.shape.length}, expected NCHW`);
  }
  const b = meta.shape[0];
  return typeof b === 'number' && b > 0 ? b : undefined;
}

export class Sessions {
  private nextId = 1;
  readonly eps: EpName[];

  private constructor(readonly pool: WorkerPool, readonly plan: ThreadPlan, eps: EpName[], private readonly log: SessionsOptions['log']) {
    this.eps = eps;
  }

  static async start(o: SessionsOptions): Promise<Sessions> {
    const eps = parseEps(o.eps ?? ['cpu']);
    const plan = threadPlan(o.workers, o.intraOpThreads);
    const pool = await WorkerPool.start(plan.workers, { intraOpThreads: plan.intraOpThreads, spinning: o.spinning }, o.log);
    return new Sessions(pool, plan, eps, o.log);
  }

  get workers(): number {
    return this.plan.workers;
  }

  /** Creates the model's session in every worker and warms it at each batch size the batcher will use. */
  async load(name: string, dir: string, manifest: Manifest, bytes: Uint8Array, maxBatch: number, warm: boolean): Promise<LoadedModel> {
    const id = this.nextId++;
    const settled = await Promise.allSettled(
      Array.from({ length: this.workers }, (_, i) => this.pool.call<LoadReply>(i, { op: 'load', modelId: id, bytes, eps: this.eps, manifest })),
    );
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    try {
      if (failed) throw failed.reason;
      const replies = settled.map((s) => (s as PromiseFulfilledResult<LoadReply>).value);
      const r = replies[0];
      for (const f of r.failed) this.log.warn(`model ${name}: execution provider ${f.ep} unavailable (${f.error}); falling back`);
      if (replies.some((x) => x.ep !== r.ep)) this.log.warn(`model ${name}: workers ended up on different providers (${replies.map((x) => x.ep).join(', ')})`);
      const fixedBatch = checkInputShape(manifest, r.inputs);
      const model: LoadedModel = {
        id, name, dir, manifest, ep: r.ep, inputs: r.inputs, outputs: r.outputs,
        maxBatch: Math.max(1, Math.min(maxBatch, fixedBatch ?? maxBatch)),
      };
      if (warm) await this.warm(model);
      this.log.info(`model ${name}: ready on ${r.ep} (batch <= ${model.maxBatch}, ${this.workers} worker(s) x ${this.plan.intraOpThreads} thread(s))`);
      return model;
    } catch (e) {
      await this.releaseId(id);
      throw e;
    }
  }

  private async warm(model: LoadedModel, only?: number): Promise<void> {
    const batches = warmBatches(model.maxBatch);
    const notes = only !== undefined
      ? [await this.pool.call<string | null>(only, { op: 'warm', modelId: model.id, batches })]
      : await this.pool.all<string | null>({ op: 'warm', modelId: model.id, batches });
    const note = notes.find((n) => n);
    if (note) this.log.warn(`model ${model.name}: warm-up skipped (${note})`);
  }

  /** Loads a live model into a restarted worker. */
  async reloadInto(worker: number, model: LoadedModel, bytes: Uint8Array, warm: boolean): Promise<void> {
    await this.pool.call<LoadReply>(worker, { op: 'load', modelId: model.id, bytes, eps: this.eps, manifest: model.manifest });
    if (warm) await this.warm(model, worker);
  }

  private async releaseId(modelId: number): Promise<void> {
    await Promise.allSettled(Array.from({ length: this.workers }, (_, i) => this.pool.call(i, { op: 'release', modelId })));
  }

  release(model: LoadedModel): Promise<void> {
    return this.releaseId(model.id);
  }

  /** A batch of detection jobs on one worker; the image tensors are transferred, not copied. */
  runDetect(worker: number, model: LoadedModel, jobs: readonly DetectJob[]): Promise<DetectReply> {
    return this.pool.call<DetectReply>(worker, { op: 'runDetect', modelId: model.id, jobs }, jobs.map((j) => j.tensor.buffer as ArrayBuffer));
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
