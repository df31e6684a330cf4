// A bound on how many decodes run at once (sharp decodes on libuv's pool). Fewer lanes than the pool
// keep decodes from crowding ONNX Runtime's threads on a dedicated machine; measured on the shared 2-core
// machine (bench/README.md, issue 20) one lane lowered throughput at 16 connections (4.2 against 5.1 and
// 8.7 req/s in two rounds): a decode waiting for its lane leaves the worker idle. So the default is libuv's
// pool size, no bound beyond it, and `decodeLanes` (`--decode-lanes`) lowers it where that pays.

/** libuv's thread pool size: UV_THREADPOOL_SIZE, else its default of 4. */
export function defaultDecodeLanes(): number {
  const n = Number(process.env.UV_THREADPOOL_SIZE);
  return Number.isInteger(n) && n >= 1 ? n : 4;
}

export class Lanes {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly size: number) {
    if (!(Number.isInteger(size) && size >= 1)) throw new Error(`lanes must be an integer >= 1, got ${size}`);
  }

  /** Runs `work` once a lane is free; lanes are taken in arrival order. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.size) await new Promise<void>((r) => this.waiting.push(r));
    else this.running++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      // the lane passes straight to the next in line: running stays the same
      if (next) next();
      else this.running--;
    }
  }

  /** work waiting for a lane */
  get queued(): number {
    return this.waiting.length;
  }
}
