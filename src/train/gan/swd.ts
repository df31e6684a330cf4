// Sliced Wasserstein distance between two sets of vectors (e.g. images flattened at a low
// resolution): the mean over random unit directions of the 1-D Wasserstein-1 distance between the
// projected sets. Cheap, needs no feature network, and falls as the generated distribution
// approaches the real one; used to track WGAN image quality over training.
import { Rng } from '../data/rng.ts';

export function slicedWasserstein(a: Float32Array, b: Float32Array, dim: number, directions = 128, seed = 1): number {
  const na = a.length / dim;
  const nb = b.length / dim;
  if (!Number.isInteger(na) || !Number.isInteger(nb) || na === 0 || nb === 0) throw new Error('slicedWasserstein: sets must hold whole vectors');
  const rng = new Rng(seed, 0x5d);
  const pa = new Float64Array(na);
  const pb = new Float64Array(nb);
  const dir = new Float64Array(dim);
  const m = Math.min(na, nb);
  let total = 0;
  for (let k = 0; k < directions; k++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) { dir[j] = rng.normal(); norm += dir[j] * dir[j]; }
    norm = Math.sqrt(norm);
    const project = (x: Float32Array, n: number, out: Float64Array) => {
      for (let i = 0; i < n; i++) {
        let s = 0;
        const o = i * dim;
        for (let j = 0; j < dim; j++) s += x[o + j] * dir[j];
        out[i] = s / norm;
      }
      out.sort();
    };
    project(a, na, pa);
    project(b, nb, pb);
    // compare quantiles when the set sizes differ
    let d = 0;
    for (let q = 0; q < m; q++) {
      const ia = Math.min(na - 1, Math.floor(((q + 0.5) / m) * na));
      const ib = Math.min(nb - 1, Math.floor(((q + 0.5) / m) * nb));
      d += Math.abs(pa[ia] - pb[ib]);
    }
    total += d / m;
  }
  return total / directions;
}
