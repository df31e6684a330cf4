// Input tensors go to an inference worker (transferred) and come back with its reply, so that a stream of
// frames reuses a few buffers: a fresh Float32Array per frame (1.2 MB for a 320x320 RGB input) is
// allocated zeroed and left to the garbage collector, ~290 MB/s at 240 frames/s.
// Whoever takes a buffer writes every value of it: a recycled one still holds its last frame.

/** Buffers kept per length; a frame in each stage of the pipeline (decode, queue, worker) needs one. */
const KEEP = 8;
/** Different lengths kept at once (one per loaded input size); the least recently used goes first. */
const LENGTHS = 4;

export class TensorPool {
  private readonly free = new Map<number, Float32Array[]>();
  private created = 0;
  private reused = 0;

  constructor(private readonly keep = KEEP, private readonly lengths = LENGTHS) {}

  /** A buffer of `length` values, recycled when one is free: its contents are the last user's. */
  take(length: number): Float32Array {
    const list = this.free.get(length);
    const a = list?.pop();
    if (a) {
      this.reused++;
      return a;
    }
    this.created++;
    return new Float32Array(length);
  }

  /** A buffer back from a worker; one detached or of an unkept size is simply dropped. */
  give(a: Float32Array): void {
    if (a.length === 0 || a.byteOffset !== 0 || a.byteLength !== a.buffer.byteLength || !(a.buffer instanceof ArrayBuffer)) return;
    let list = this.free.get(a.length);
    if (list) {
      // most recently used length last, so the first key is the one to evict
      this.free.delete(a.length);
    } else {
      list = [];
      if (this.free.size >= this.lengths) this.free.delete(this.free.keys().next().value!);
    }
    this.free.set(a.length, list);
    if (list.length < this.keep) list.push(a);
  }

  /** buffers made and buffers handed out again, since start */
  get counts(): { created: number; reused: number } {
    return { created: this.created, reused: this.reused };
  }
}
