// Sessions on the worker pool: load a model version into every worker (same EP everywhere), warm it
// at the batch sizes it will see, run batches on a chosen worker, release it. No queueing here: the
// batcher decides what runs where and when.
import { availableParallelism } from 'node:os';
import type { Manifest } from '../manifest.ts';
import { parseEps, type EpName } from './ep.ts';
import { WorkerPool, type PoolLog } from './pool.ts';
import type { DetectReply, InferReply, LoadReply, TensorMeta } from './protocol.ts';
import { isDetector } from './post.ts';
import type { DetectParams, RawTensor } from './types.ts';
import type { ImageSize } from '../vision/letterbox.ts';

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

export interface Version {
  vid: number;
  name: string;
  dir: string;
  manifest: Manifest;
  ep: EpName;
  inputs: TensorMeta[];
  outputs: TensorMeta[];
  /** largest batch this version runs (the graph may fix the batch dimension) */
  maxBatch: number;
}

export interface EngineOptions {
  eps?: string | readonly string[];
  workers?: number;
  intraOpThreads?: number;
  spinning?: boolean;
  log: PoolLog & { info(msg: string): void };
}

function checkInputShape(v: { manifest: Manifest; inputs: TensorMeta[] }): number | undefined {
  const m = v.manifest;
  const name = m.onnx?.input ?? v.inputs[0]?.name;
  const meta = v.inputs.find((i) => i.name === name);
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

export class Engine {
  private nextVid = 1;
  readonly eps: EpName[];

  private constructor(readonly pool: WorkerPool, readonly plan: ThreadPlan, eps: EpName[], private readonly log: EngineOptions['log']) {
    this.eps = eps;
  }

  static async start(o: EngineOptions): Promise<Engine> {
    const eps = parseEps(o.eps ?? ['cpu']);
    const plan = threadPlan(o.workers, o.intraOpThreads);
    const pool = await WorkerPool.start(plan.workers, { intraOpThreads: plan.intraOpThreads, spinning: o.spinning }, o.log);
    return new Engine(pool, plan, eps, o.log);
  }

  get workers(): number {
    return this.plan.workers;
  }

  /**
   * Creates the version's session in every worker (or in one, for a restarted worker) and warms it
   * at each batch size in `warm` (the sizes the batcher will use).
   */
  async load(name: string, dir: string, manifest: Manifest, bytes: Uint8Array, maxBatch: number, warm: boolean): Promise<Version> {
    const vid = this.nextVid++;
    const settled = await Promise.allSettled(
      Array.from({ length: this.workers }, (_, i) => this.pool.call<LoadReply>(i, { op: 'load', vid, bytes, eps: this.eps, manifest })),
    );
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    try {
      if (failed) throw failed.reason;
      const replies = settled.map((s) => (s as PromiseFulfilledResult<LoadReply>).value);
      const r = replies[0];
      for (const f of r.failed) this.log.warn(`model ${name}: execution provider ${f.ep} unavailable (${f.error}); falling back`);
      if (replies.some((x) => x.ep !== r.ep)) this.log.warn(`model ${name}: workers ended up on different providers (${replies.map((x) => x.ep).join(', ')})`);
      const fixedBatch = checkInputShape({ manifest, inputs: r.inputs });
      const v: Version = {
        vid, name, dir, manifest, ep: r.ep, inputs: r.inputs, outputs: r.outputs,
        maxBatch: Math.max(1, Math.min(maxBatch, fixedBatch ?? maxBatch)),
      };
      if (warm) await this.warm(v);
      this.log.info(`model ${name}: ready on ${r.ep} (batch <= ${v.maxBatch}, ${this.workers} worker(s) x ${this.plan.intraOpThreads} thread(s))`);
      return v;
    } catch (e) {
      await this.releaseVid(vid);
      throw e;
    }
  }

  private async warm(v: Version, only?: number): Promise<void> {
    const batches = warmBatches(v.maxBatch);
    const notes = only !== undefined
      ? [await this.pool.call<string | null>(only, { op: 'warm', vid: v.vid, batches })]
      : await this.pool.all<string | null>({ op: 'warm', vid: v.vid, batches });
    const note = notes.find((n) => n);
    if (note) this.log.warn(`model ${v.name}: warm-up skipped (${note})`);
  }

  /** Loads a live version into a restarted worker. */
  async reloadInto(worker: number, v: Version, bytes: Uint8Array, warm: boolean): Promise<void> {
    await this.pool.call<LoadReply>(worker, { op: 'load', vid: v.vid, bytes, eps: this.eps, manifest: v.manifest });
    if (warm) await this.warm(v, worker);
  }

  private async releaseVid(vid: number): Promise<void> {
    await Promise.allSettled(Array.from({ length: this.workers }, (_, i) => this.pool.call(i, { op: 'release', vid })));
  }

  release(v: Version): Promise<void> {
    return this.releaseVid(v.vid);
  }

  detect(worker: number, v: Version, images: Float32Array[], sizes: ImageSize[], params: DetectParams[]): Promise<DetectReply> {
    return this.pool.call<DetectReply>(worker, { op: 'detect', vid: v.vid, images, sizes, params }, images.map((d) => d.buffer as ArrayBuffer));
  }

  infer(worker: number, v: Version, inputs: Record<string, RawTensor>): Promise<InferReply> {
    const transfer = new Set<ArrayBuffer>();
    const sent: Record<string, RawTensor> = {};
    for (const [k, t] of Object.entries(inputs)) {
      const whole = t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength && t.data.buffer instanceof ArrayBuffer;
      // A view into a larger buffer (e.g. Node's Buffer pool) must not be detached: copy just its bytes.
      const data = whole && !transfer.has(t.data.buffer as ArrayBuffer) ? t.data : t.data.slice();
      transfer.add(data.buffer as ArrayBuffer);
      sent[k] = { ...t, data };
    }
    return this.pool.call<InferReply>(worker, { op: 'infer', vid: v.vid, inputs: sent }, [...transfer]);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
