// A fixed set of inference worker threads with request/reply messaging. A worker that dies is
// replaced (its in-flight calls fail, the owner reloads its sessions through onRespawn).
import type { Worker } from 'node:worker_threads';
import { moduleWorker, siblingModule } from '../threads/module-worker.ts';
import { PinholeError } from '../errors.ts';
import type { WorkerInit, WorkerReply, WorkerRequest } from './protocol.ts';

const WORKER_URL = siblingModule(import.meta.url, 'worker');
const READY = "require('node:worker_threads').parentPort.postMessage({ ready: true })";

type Request = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  pending: Map<number, Pending>;
}

export interface PoolLog {
  warn(msg: string): void;
  error(msg: string): void;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closing = false;
  private restarts: number[] = [];
  /** called after a dead worker was replaced, before it takes work: load the live sessions into it */
  onRespawn?: (index: number) => Promise<void>;
  /** called whenever a worker becomes ready for work */
  onReady?: (index: number) => void;

  private constructor(readonly size: number, private readonly init: WorkerInit, private readonly log: PoolLog) {}

  /** `first` workers start now (all by default); the others with grow(), later (a cold start's ramp-up). */
  static async start(size: number, init: WorkerInit, log: PoolLog, first = size): Promise<WorkerPool> {
    const pool = new WorkerPool(size, init, log);
    try {
      await Promise.all(Array.from({ length: Math.min(size, first) }, (_, i) => pool.spawn(i)));
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  isReady(i: number): boolean {
    return this.slots[i]?.ready === true;
  }

  /** The workers started so far (all of them once a ramp-up is done). */
  started(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.size; i++) if (this.slots[i]) out.push(i);
    return out;
  }

  /** Starts worker `i`, one left out at start; it takes no work until markReady. */
  async grow(i: number): Promise<void> {
    if (this.slots[i] || this.closing) throw new Error(this.closing ? 'the pool is closing' : `worker ${i} already started`);
    try {
      await this.spawn(i);
    } catch (e) {
      delete this.slots[i];
      throw e;
    }
  }

  /** No new work for worker `i` until markReady (it is busy with work of the runtime's own). */
  hold(i: number): void {
    const s = this.slots[i];
    if (s) s.ready = false;
  }

  private spawn(i: number): Promise<void> {
    const worker = moduleWorker(WORKER_URL, { workerData: { ...this.init, index: i } satisfies WorkerInit, stdout: false, stderr: false }, READY);
    const slot: Slot = { worker, ready: false, pending: new Map() };
    this.slots[i] = slot;
    return new Promise<void>((resolve, reject) => {
      let started = false;
      worker.on('message', (m: WorkerReply | { ready: true }) => {
        if ('ready' in m) {
          started = true;
          resolve();
          return;
        }
        const p = slot.pending.get(m.id);
        if (!p) return;
        slot.pending.delete(m.id);
        if (m.ok) p.resolve(m.value);
        else p.reject(m.error.code ? new PinholeError(m.error.code, m.error.message) : new Error(m.error.message));
      });
      worker.on('error', (e) => {
        if (!started) reject(new Error(`inference worker failed to start: ${e.message}`));
        else this.log.error(`inference worker ${i} crashed: ${e.message}`);
      });
      worker.on('exit', (code) => {
        slot.ready = false;
        for (const p of slot.pending.values()) p.reject(new PinholeError('internal', `inference worker exited (code ${code})`));
        slot.pending.clear();
        if (!started) {
          reject(new Error(`inference worker exited during start (code ${code})`));
          return;
        }
        if (!this.closing && this.slots[i] === slot) void this.respawn(i);
      });
    });
  }

  private async respawn(i: number): Promise<void> {
    // A worker that keeps dying would only die again: after a few restarts in a minute, give up
    // rather than spin (requests for it then time out or wait for the other workers).
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < 60_000);
    if (this.restarts.length >= 3) {
      this.log.error(`inference worker ${i} died again (${this.restarts.length} restarts in the last minute); not restarting it`);
      return;
    }
    this.restarts.push(now);
    this.log.warn(`restarting inference worker ${i}`);
    try {
      await this.spawn(i);
      await this.onRespawn?.(i);
      this.markReady(i);
    } catch (e) {
      this.log.error(`could not restart inference worker ${i}: ${(e as Error).message}`);
    }
  }

  /** The runtime marks a worker ready once it holds every live session. */
  markReady(i: number): void {
    const s = this.slots[i];
    if (!s || s.ready) return;
    s.ready = true;
    this.onReady?.(i);
  }

  call<T>(i: number, msg: Request, transfer: ArrayBuffer[] = []): Promise<T> {
    const slot = this.slots[i];
    if (!slot) return Promise.reject(new Error(`no worker ${i}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      slot.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      try {
        slot.worker.postMessage({ ...msg, id }, transfer);
      } catch (e) {
        slot.pending.delete(id);
        reject(e as Error);
      }
    });
  }

  /** The same call on every worker started (load, warm, release). */
  all<T>(msg: Request): Promise<T[]> {
    return Promise.all(this.started().map((i) => this.call<T>(i, msg)));
  }

  /** Ends a worker as a crash would (tests of the restart path). */
  kill(i: number): Promise<number> {
    return this.slots[i].worker.terminate();
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.filter(Boolean).map((s) => s.worker.terminate()));
  }
}
