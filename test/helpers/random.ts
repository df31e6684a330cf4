// Seeded random numbers for tests, fixtures and benches: a failure reproduces, and generated weights,
// models and inputs are identical run to run. No test framework here, so bench/ may import it too.

/** Uniform [0, 1) from a 32-bit seed (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// half of rng()'s step (2^-32): moves every uniform into (0, 1) so that log() below never sees 0
const HALF_STEP = 2 ** -33;

/** Standard normal (Box-Muller on rng(seed), two uniforms per value). */
export function gaussian(seed: number): () => number {
  const r = rng(seed);
  const u = () => r() + HALF_STEP;
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

/** Overwrites `a` with values uniform in [-scale, scale); returns it. */
export function fillUniform(a: Float32Array, r: () => number, scale = 1): Float32Array {
  for (let i = 0; i < a.length; i++) a[i] = (r() * 2 - 1) * scale;
  return a;
}

/** n values uniform in [-scale, scale). */
export function uniform(n: number, r: () => number, scale = 1): Float32Array {
  return fillUniform(new Float32Array(n), r, scale);
}
