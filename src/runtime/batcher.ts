// Dynamic batching over the worker pool, of opaque jobs. Each loaded model has a bounded FIFO queue;
// whenever a worker is free, the queue whose oldest job is oldest among the "ready" ones gets the
// worker (no starvation across models), and hands up to `maxBatch` consecutive jobs of the same adapter
// from its head to that adapter (none overtakes another within a model). A queue is ready when it holds
// a full batch or its head has waited batchDelayMs. While every worker is busy jobs simply accumulate,
// so under load batches fill without any added delay. What a job is (an image to detect, raw tensors,
// ...) is the adapter's business.
// A job alone (no batch running, nothing else queued) on an adapter with a solo mode runs solo on
// worker 0: with every core (see sessions.ts threadPlan), and nothing else starts until it is done, so
// its threads have the cores to themselves; a job arriving meanwhile waits for that (short) run.
import { PinholeError } from '../errors.ts';
import type { RuntimeObserver } from './types.ts';

export interface BatcherOptions {
  maxBatch: number;
  batchDelayMs: number;
  queueLimit: number;
}

/** Runs a batch of one kind of job of one model on a worker. */
export interface Adapter<J, R> {
  /** largest batch it takes (1: every job runs alone, without waiting for company) */
  readonly maxBatch: number;
  /** how long its lone job waits for company while a worker is free (default: the batcher's batchDelayMs) */
  readonly batchDelayMs?: number;
  /** it can run a lone job solo (on worker 0, with every core) */
  readonly solo?: boolean;
  /** one result per job, in order; `solo` only when the adapter has the mode and worker is 0 */
  run(worker: number, jobs: J[], solo?: boolean): Promise<{ results: R[]; inferMs: number; postMs: number }>;
}

export interface JobTiming {
  /** ms between entering the queue and leaving it for a worker */
  queueMs: number;
  /** ms ORT took for the whole batch */
  inferMs: number;
  /** ms decode + NMS took for the batch */
  postMs: number;
  batchSize: number;
}

export interface Finished<R> {
  result: R;
  timing: JobTiming;
}

/** An admitted request: it holds a queue slot until it submits its job or cancels. */
export interface Ticket {
  /** `deadline` is a performance.now() time (Infinity for none) after which a still-queued job is dropped */
  submit<J, R>(adapter: Adapter<J, R>, job: J, deadline: number): Promise<Finished<R>>;
  /** gives the slot back (the request failed before it had a job) */
  cancel(): void;
}

type AnyAdapter = Adapter<unknown, unknown>;

interface Queued {
  adapter: AnyAdapter;
  job: unknown;
  enqueuedAt: number;
  deadline: number;
  timer?: NodeJS.Timeout;
  state: 'queued' | 'running' | 'done';
  resolve(r: Finished<unknown>): void;
  reject(e: Error): void;
}

/** The queue of one loaded model (a reloaded model gets a new one; the old one drains). */
export interface ModelQueue {
  readonly model: string;
  readonly jobs: Queued[];
  /** admitted requests that have not submitted yet (e.g. still decoding): they hold a slot already */
  admitted: number;
  /** batches running on workers */
  running: number;
  /** running estimate of inference ms per job, for Retry-After */
  msPerJob: number;
  retired: boolean;
  released: boolean;
}

export class Batcher {
  private readonly queues = new Set<ModelQueue>();
  private readonly busy: boolean[];
  /** a solo batch is running: no other worker starts anything */
  private soloRunning = false;
  private wake: NodeJS.Timeout | null = null;
  private wakeAt = Infinity;
  /** when set (closing), every queued job is dispatched at once, without waiting for a batch to fill */
  flush = false;
  /** called when a retired queue has nothing left admitted, queued or running */
  onDrained?: (queue: ModelQueue) => void;

  constructor(
    workers: number,
    private readonly workerReady: (worker: number) => boolean,
    private readonly options: BatcherOptions,
    private readonly observer: RuntimeObserver = {},
  ) {
    this.busy = Array.from({ length: workers }, () => false);
  }

  open(model: string): ModelQueue {
    const queue: ModelQueue = { model, jobs: [], admitted: 0, running: 0, msPerJob: 0, retired: false, released: false };
    this.queues.add(queue);
    return queue;
  }

  /** No new jobs go to this queue; it is released once empty. */
  retire(queue: ModelQueue): void {
    queue.retired = true;
    this.checkDrained(queue);
    // nothing new will join it: what waits there goes now, without waiting for a full batch
    this.pump();
  }

  private checkDrained(queue: ModelQueue): void {
    if (queue.retired && !queue.released && queue.admitted === 0 && queue.jobs.length === 0 && queue.running === 0) {
      queue.released = true;
      this.queues.delete(queue);
      this.onDrained?.(queue);
    }
  }

  /** jobs waiting (not yet running), over every live queue of a model */
  depth(model: string): number {
    let n = 0;
    for (const q of this.queues) if (q.model === model) n += q.jobs.length;
    return n;
  }

  private reportDepth(queue: ModelQueue): void {
    this.observer.onQueueDepth?.(queue.model, this.depth(queue.model));
  }

  private overloaded(queue: ModelQueue): PinholeError {
    const waiting = queue.jobs.length + queue.admitted;
    const perJob = queue.msPerJob || 50;
    const secs = Math.max(1, Math.ceil((waiting * perJob) / this.busy.length / 1000));
    return new PinholeError('overloaded', `model ${queue.model} is overloaded (${waiting} requests queued); retry later`, { retryAfter: secs });
  }

  /**
   * Takes a queue slot for a request, before its job exists (admitting before decoding bounds the
   * memory held by decoded-but-not-run images); throws overloaded when the queue is full.
   */
  admit(queue: ModelQueue): Ticket {
    if (queue.jobs.length + queue.admitted >= this.options.queueLimit) throw this.overloaded(queue);
    queue.admitted++;
    let used = false;
    const use = () => {
      if (used) throw new Error('a ticket is used once');
      used = true;
      queue.admitted--;
    };
    return {
      submit: <J, R>(adapter: Adapter<J, R>, job: J, deadline: number) => {
        use();
        return new Promise<Finished<R>>((resolve, reject) => {
          this.enqueue(queue, {
            adapter: adapter as AnyAdapter, job, deadline, enqueuedAt: 0, state: 'queued',
            resolve: resolve as (r: Finished<unknown>) => void, reject,
          });
        });
      },
      cancel: () => {
        use();
        this.checkDrained(queue);
      },
    };
  }

  private enqueue(queue: ModelQueue, item: Queued): void {
    const now = performance.now();
    item.enqueuedAt = now;
    if (item.deadline <= now) {
      item.state = 'done';
      item.reject(new PinholeError('timeout', 'request deadline passed before it could run'));
      this.checkDrained(queue);
      return;
    }
    if (Number.isFinite(item.deadline)) {
      item.timer = setTimeout(() => this.expire(queue, item), Math.max(0, item.deadline - now));
    }
    queue.jobs.push(item);
    this.reportDepth(queue);
    this.pump();
    if (item.state === 'queued') this.waits++;
  }

  private expire(queue: ModelQueue, item: Queued): void {
    if (item.state !== 'queued') return;
    const i = queue.jobs.indexOf(item);
    if (i >= 0) queue.jobs.splice(i, 1);
    item.state = 'done';
    item.reject(new PinholeError('timeout', `request waited ${Math.round(performance.now() - item.enqueuedAt)} ms in the queue and passed its deadline`));
    this.reportDepth(queue);
    this.checkDrained(queue);
  }

  /** A worker became available (started, restarted, or finished a batch). */
  pump(): void {
    for (;;) {
      const w = this.freeWorker();
      if (w < 0) return;
      const now = performance.now();
      let best: ModelQueue | null = null;
      let nextReady = Infinity;
      for (const queue of this.queues) {
        const head = queue.jobs[0];
        if (!head) continue;
        const full = this.flush || queue.retired || queue.jobs.length >= head.adapter.maxBatch;
        const readyAt = full ? head.enqueuedAt : head.enqueuedAt + (head.adapter.batchDelayMs ?? this.options.batchDelayMs);
        if (readyAt <= now) {
          if (!best || head.enqueuedAt < best.jobs[0].enqueuedAt) best = queue;
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
    if (this.soloRunning) return -1;
    for (let i = 0; i < this.busy.length; i++) if (!this.busy[i] && this.workerReady(i)) return i;
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

  /** The head job and the ones behind it for the same adapter, up to its batch size. */
  private take(queue: ModelQueue): Queued[] {
    const head = queue.jobs.shift()!;
    const batch = [head];
    while (batch.length < head.adapter.maxBatch && queue.jobs[0]?.adapter === head.adapter) batch.push(queue.jobs.shift()!);
    return batch;
  }

  private dispatch(w: number, queue: ModelQueue, now: number): void {
    const batch = this.take(queue);
    const solo = w === 0 && batch.length === 1 && batch[0].adapter.solo === true && !this.busy.some(Boolean) && this.queued() === 0;
    for (const it of batch) {
      if (it.timer) clearTimeout(it.timer);
      it.state = 'running';
    }
    this.reportDepth(queue);
    this.busy[w] = true;
    this.soloRunning = solo;
    queue.running++;
    const queueMs = batch.map((it) => now - it.enqueuedAt);
    const done = (): void => {
      for (const it of batch) it.state = 'done';
      this.busy[w] = false;
      if (solo) this.soloRunning = false;
      queue.running--;
      this.checkDrained(queue);
      this.pump();
    };
    batch[0].adapter.run(w, batch.map((it) => it.job), solo || undefined).then((r) => {
      const per = r.inferMs / batch.length;
      queue.msPerJob = queue.msPerJob ? 0.8 * queue.msPerJob + 0.2 * per : per;
      this.observer.onBatch?.({ model: queue.model, size: batch.length, queueSeconds: queueMs.map((q) => q / 1000), inferSeconds: r.inferMs / 1000, solo, worker: w });
      batch.forEach((it, i) => it.resolve({
        result: r.results[i],
        timing: { queueMs: queueMs[i], inferMs: r.inferMs, postMs: r.postMs, batchSize: batch.length },
      }));
      done();
    }, (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      for (const it of batch) it.reject(err);
      done();
    });
  }

  /** jobs waiting in every queue, and requests admitted that will queue one (still decoding) */
  private queued(): number {
    let n = 0;
    for (const q of this.queues) n += q.jobs.length + q.admitted;
    return n;
  }

  /** Live queues, queued and running batches per model (queues > 1 while a replaced model drains). */
  stats(): Record<string, { versions: number; queued: number; running: number }> {
    const out: Record<string, { versions: number; queued: number; running: number }> = {};
    for (const q of this.queues) {
      const s = (out[q.model] ??= { versions: 0, queued: 0, running: 0 });
      s.versions++;
      s.queued += q.jobs.length + q.admitted;
      s.running += q.running;
    }
    return out;
  }

  /** Jobs that found no worker to start on at once, so far (a cold start's ramp-up is wanted: ramp-up.ts). */
  waits = 0;

  /** Jobs admitted, queued or running anywhere. */
  get idle(): boolean {
    for (const q of this.queues) if (q.jobs.length || q.running || q.admitted) return false;
    return true;
  }

  stop(): void {
    if (this.wake) clearTimeout(this.wake);
    this.wake = null;
  }
}
