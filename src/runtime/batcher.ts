// Dynamic batching over the worker pool. Each model version has a bounded FIFO queue; whenever a
// worker is free, the version whose oldest request is oldest among the "ready" ones gets the worker
// (no starvation across models), and takes up to maxBatch requests from the head of its queue (none
// overtakes another within a model). A queue is ready when it holds a full batch or its head has
// waited batchDelayMs. While every worker is busy requests simply accumulate, so under load batches
// fill without any added delay.
import { PinholeError } from '../errors.ts';
import type { ImageSize } from '../vision/letterbox.ts';
import type { Engine, Version } from './engine.ts';
import type { DetectReply, InferReply } from './protocol.ts';
import type { Detection, DetectParams, RawTensor, RuntimeObserver } from './types.ts';

export interface BatcherOptions {
  maxBatch: number;
  batchDelayMs: number;
  queueLimit: number;
}

export interface ItemTiming {
  /** ms between entering the queue and leaving it for a worker */
  queueMs: number;
  /** ms ORT took for the whole batch */
  inferMs: number;
  /** ms decode + NMS took for the batch */
  postMs: number;
  batchSize: number;
}

interface ItemBase {
  enq: number;
  /** performance.now() deadline; Infinity for none */
  deadline: number;
  timer?: NodeJS.Timeout;
  state: 'queued' | 'running' | 'done';
  reject(e: Error): void;
}

interface DetectItem extends ItemBase {
  kind: 'detect';
  image: Float32Array;
  size: ImageSize;
  params: DetectParams;
  resolve(r: { detections: Detection[]; timing: ItemTiming }): void;
}

interface InferItem extends ItemBase {
  kind: 'infer';
  inputs: Record<string, RawTensor>;
  resolve(r: { outputs: Record<string, RawTensor>; timing: ItemTiming }): void;
}

type Item = DetectItem | InferItem;

/** Per-version queue state. */
export interface Lane {
  v: Version;
  queue: Item[];
  /** accepted requests still being decoded: they hold a queue slot already */
  reserved: number;
  /** batches running on workers */
  running: number;
  /** running estimate of inference ms per image, for Retry-After */
  msPerImage: number;
  retired: boolean;
  released: boolean;
}

export class Batcher {
  private readonly lanes = new Set<Lane>();
  private readonly busy: boolean[];
  private wake: NodeJS.Timeout | null = null;
  private wakeAt = Infinity;
  /** when set (closing), every queued request is dispatched at once, without waiting for a batch to fill */
  flush = false;
  /** called when a retired lane has nothing left queued or running */
  onDrained?: (lane: Lane) => void;

  constructor(private readonly engine: Engine, private readonly o: BatcherOptions, private readonly observer: RuntimeObserver = {}) {
    this.busy = Array.from({ length: engine.workers }, () => false);
  }

  addLane(v: Version): Lane {
    const lane: Lane = { v, queue: [], reserved: 0, running: 0, msPerImage: 0, retired: false, released: false };
    this.lanes.add(lane);
    return lane;
  }

  /** No new requests go to this lane; it is released once empty. */
  retire(lane: Lane): void {
    lane.retired = true;
    this.checkDrained(lane);
    // nothing new will join its queue: what waits there goes now, without waiting for a full batch
    this.pump();
  }

  private checkDrained(lane: Lane): void {
    if (lane.retired && !lane.released && lane.reserved === 0 && lane.queue.length === 0 && lane.running === 0) {
      lane.released = true;
      this.lanes.delete(lane);
      this.onDrained?.(lane);
    }
  }

  /** requests waiting in the queue (decoded, not yet running), over every live version of a model */
  depth(model: string): number {
    let n = 0;
    for (const l of this.lanes) if (l.v.name === model) n += l.queue.length;
    return n;
  }

  private reportDepth(lane: Lane): void {
    this.observer.onQueueDepth?.(lane.v.name, this.depth(lane.v.name));
  }

  private overloaded(lane: Lane): PinholeError {
    const waiting = lane.queue.length + lane.reserved;
    const perImage = lane.msPerImage || 50;
    const secs = Math.max(1, Math.ceil((waiting * perImage) / this.busy.length / 1000));
    return new PinholeError('overloaded', `model ${lane.v.name} is overloaded (${waiting} requests queued); retry later`, { retryAfter: secs });
  }

  /**
   * Takes a queue slot for a request that will be enqueued after decoding; throws overloaded when the
   * queue is full. Reserving before decoding bounds the memory held by decoded-but-not-run images.
   */
  reserve(lane: Lane): void {
    if (lane.queue.length + lane.reserved >= this.o.queueLimit) throw this.overloaded(lane);
    lane.reserved++;
  }

  /** Gives back a reservation that will not be enqueued (decode failed). */
  unreserve(lane: Lane): void {
    lane.reserved--;
    this.checkDrained(lane);
  }

  detect(lane: Lane, image: Float32Array, size: ImageSize, params: DetectParams, deadline: number, reserved: boolean) {
    return new Promise<{ detections: Detection[]; timing: ItemTiming }>((resolve, reject) => {
      this.enqueue(lane, { kind: 'detect', image, size, params, deadline, resolve, reject, enq: 0, state: 'queued' }, reserved);
    });
  }

  infer(lane: Lane, inputs: Record<string, RawTensor>, deadline: number) {
    return new Promise<{ outputs: Record<string, RawTensor>; timing: ItemTiming }>((resolve, reject) => {
      this.enqueue(lane, { kind: 'infer', inputs, deadline, resolve, reject, enq: 0, state: 'queued' }, false);
    });
  }

  private enqueue(lane: Lane, item: Item, reserved: boolean): void {
    if (reserved) lane.reserved--;
    else if (lane.queue.length + lane.reserved >= this.o.queueLimit) {
      item.reject(this.overloaded(lane));
      return;
    }
    const now = performance.now();
    item.enq = now;
    if (item.deadline <= now) {
      item.state = 'done';
      item.reject(new PinholeError('timeout', 'request deadline passed before it could run'));
      this.checkDrained(lane);
      return;
    }
    if (Number.isFinite(item.deadline)) {
      item.timer = setTimeout(() => this.expire(lane, item), Math.max(0, item.deadline - now));
    }
    lane.queue.push(item);
    this.reportDepth(lane);
    this.pump();
  }

  private expire(lane: Lane, item: Item): void {
    if (item.state !== 'queued') return;
    const i = lane.queue.indexOf(item);
    if (i >= 0) lane.queue.splice(i, 1);
    item.state = 'done';
    item.reject(new PinholeError('timeout', `request waited ${Math.round(performance.now() - item.enq)} ms in the queue and passed its deadline`));
    this.reportDepth(lane);
    this.checkDrained(lane);
  }

  /** A worker became available (started, restarted, or finished a batch). */
  pump(): void {
    for (;;) {
      const w = this.freeWorker();
      if (w < 0) return;
      const now = performance.now();
      let best: Lane | null = null;
      let nextReady = Infinity;
      for (const lane of this.lanes) {
        const head = lane.queue[0];
        if (!head) continue;
        const full = this.flush || lane.retired || head.kind === 'infer' || lane.queue.length >= lane.v.maxBatch;
        const readyAt = full ? head.enq : head.enq + this.o.batchDelayMs;
        if (readyAt <= now) {
          if (!best || head.enq < best.queue[0].enq) best = lane;
        } else if (readyAt < nextReady) nextReady = readyAt;
      }
      if (!best) {
        this.armWake(nextReady);
        return;
      }
      this.dispatch(w, best, now);
    }
  }

  private freeWorker(): number {
    for (let i = 0; i < this.busy.length; i++) if (!this.busy[i] && this.engine.pool.isReady(i)) return i;
    return -1;
  }

  private armWake(at: number): void {
    if (at === Infinity || (this.wake && at >= this.wakeAt)) return;
    if (this.wake) clearTimeout(this.wake);
    this.wakeAt = at;
    this.wake = setTimeout(() => {
      this.wake = null;
      this.wakeAt = Infinity;
      this.pump();
    }, Math.max(0, at - performance.now()));
  }

  private take(lane: Lane): Item[] {
    const head = lane.queue.shift()!;
    if (head.kind === 'infer') return [head];
    const batch: Item[] = [head];
    while (batch.length < lane.v.maxBatch && lane.queue[0]?.kind === 'detect') batch.push(lane.queue.shift()!);
    return batch;
  }

  private dispatch(w: number, lane: Lane, now: number): void {
    const batch = this.take(lane);
    for (const it of batch) {
      if (it.timer) clearTimeout(it.timer);
      it.state = 'running';
    }
    this.reportDepth(lane);
    this.busy[w] = true;
    lane.running++;
    const queueMs = batch.map((it) => now - it.enq);
    const done = (): void => {
      for (const it of batch) it.state = 'done';
      this.busy[w] = false;
      lane.running--;
      this.checkDrained(lane);
      this.pump();
    };
    const fail = (e: unknown): void => {
      const err = e instanceof Error ? e : new Error(String(e));
      for (const it of batch) it.reject(err);
      done();
    };
    const emit = (inferMs: number): void => {
      const per = inferMs / batch.length;
      lane.msPerImage = lane.msPerImage ? 0.8 * lane.msPerImage + 0.2 * per : per;
      this.observer.onBatch?.({ model: lane.v.name, size: batch.length, queueSeconds: queueMs.map((q) => q / 1000), inferSeconds: inferMs / 1000 });
    };
    if (batch[0].kind === 'infer') {
      const it = batch[0];
      this.engine.infer(w, lane.v, it.inputs).then((r: InferReply) => {
        emit(r.inferMs);
        it.resolve({ outputs: r.outputs, timing: { queueMs: queueMs[0], inferMs: r.inferMs, postMs: 0, batchSize: 1 } });
        done();
      }, fail);
      return;
    }
    const items = batch as DetectItem[];
    this.engine.detect(w, lane.v, items.map((it) => it.image), items.map((it) => it.size), items.map((it) => it.params)).then((r: DetectReply) => {
      emit(r.inferMs);
      items.forEach((it, i) => it.resolve({
        detections: r.detections[i],
        timing: { queueMs: queueMs[i], inferMs: r.inferMs, postMs: r.postMs, batchSize: items.length },
      }));
      done();
    }, fail);
  }

  /** Live versions, queued and running batches per model (versions > 1 while an old one drains). */
  stats(): Record<string, { versions: number; queued: number; running: number }> {
    const out: Record<string, { versions: number; queued: number; running: number }> = {};
    for (const l of this.lanes) {
      const s = (out[l.v.name] ??= { versions: 0, queued: 0, running: 0 });
      s.versions++;
      s.queued += l.queue.length + l.reserved;
      s.running += l.running;
    }
    return out;
  }

  /** Requests queued or running anywhere. */
  get idle(): boolean {
    for (const l of this.lanes) if (l.queue.length || l.running || l.reserved) return false;
    return true;
  }

  stop(): void {
    if (this.wake) clearTimeout(this.wake);
    this.wake = null;
  }
}
