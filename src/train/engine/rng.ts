// Seeded, serialisable random numbers. Training draws from streams derived from (seed, purpose, indices)
// so that a resumed run replays exactly what an uninterrupted run would have done, whatever the timing
// of the input pipeline.

/** sfc32: small, fast, passes PractRand; its whole state is four uint32 words. */
export class Rng {
  private s: Uint32Array;

  constructor(seed: number | readonly number[]) {
    const words = typeof seed === 'number' ? [seed] : seed;
    this.s = new Uint32Array(4);
    // splitmix32 over the seed words fills the state, then a few rounds decorrelate close seeds
    let h = 0x9e3779b9;
    for (let i = 0; i < 4; i++) {
      h = mix32(h ^ (words[i % words.length] >>> 0) ^ Math.imul(i + 1, 0x85ebca6b));
      this.s[i] = h;
    }
    if (typeof seed !== 'number') for (let i = 4; i < words.length; i++) this.s[i % 4] ^= mix32(words[i] >>> 0 ^ i);
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  static fromState(state: readonly number[]): Rng {
    const r = new Rng(0);
    r.s.set(state.map((v) => v >>> 0));
    return r;
  }

  state(): number[] {
    return Array.from(this.s);
  }

  nextU32(): number {
    const s = this.s;
    const t = (((s[0] + s[1]) >>> 0) + s[3]) >>> 0;
    s[3] = (s[3] + 1) >>> 0;
    s[0] = s[1] ^ (s[1] >>> 9);
    s[1] = (s[2] + (s[2] << 3)) >>> 0;
    s[2] = ((s[2] << 21) | (s[2] >>> 11)) >>> 0;
    s[2] = (s[2] + t) >>> 0;
    return t;
  }

  /** uniform in [0, 1) */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** standard normal (Box-Muller) */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
}

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A fresh stream for one purpose at one place in training, e.g. stream(seed, 'aug', epoch, index). */
export function stream(seed: number, purpose: string, ...indices: number[]): Rng {
  let h = 2166136261;
  for (let i = 0; i < purpose.length; i++) h = Math.imul(h ^ purpose.charCodeAt(i), 16777619);
  return new Rng([seed >>> 0, h >>> 0, ...indices.map((v) => v >>> 0)]);
}

/** The permutation of [0, n) used for one epoch. */
export function epochOrder(seed: number, epoch: number, n: number): Uint32Array {
  const r = stream(seed, 'order', epoch);
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = r.int(i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}
