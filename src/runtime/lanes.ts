// A bound on how many decodes run at once. sharp decodes on libuv's pool (4 threads by default), so under
// load four decodes would run beside ONNX Runtime's threads on the same cores; a session whose thread loses
// its core stalls at every intra-op barrier. Decoding is a small share of an image's CPU (dog.jpg: ~6 ms
// against ~45 ms of inference), so one lane per two cores keeps up and leaves the cores to inference.
import { availableParallelism } from 'node:os';

export function defaultDecodeLanes(): number {
  return Math.max(1, Math.floor(availableParallelism() / 2));
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
