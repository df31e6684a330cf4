// The 2-D toy distribution of the GAN literature: a mixture of 8 Gaussians on a ring, and the
// standard quality figures for it (as in the unrolled-GAN / VEEGAN evaluations): a sample is "good"
// if it lies within 3 std of its nearest mode; a mode is covered if at least `minPerMode` good
// samples (20 out of 2500 in VEEGAN's protocol) fall near it.
import { Rng } from '../data/rng.ts';

export interface RingSpec {
  modes: number;
  radius: number;
  std: number;
}

export const RING8: RingSpec = { modes: 8, radius: 2, std: 0.02 };

export function ringCentres(spec: RingSpec = RING8): Array<[number, number]> {
  return Array.from({ length: spec.modes }, (_, k) => {
    const a = (2 * Math.PI * k) / spec.modes;
    return [spec.radius * Math.cos(a), spec.radius * Math.sin(a)] as [number, number];
  });
}

/** n points [x0, y0, x1, y1, ...] drawn from the mixture with stream `rng`. */
export function sampleRing(n: number, rng: Rng, spec: RingSpec = RING8): Float32Array {
  const centres = ringCentres(spec);
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const [cx, cy] = centres[Math.floor(rng.float() * spec.modes)];
    out[2 * i] = cx + spec.std * rng.normal();
    out[2 * i + 1] = cy + spec.std * rng.normal();
  }
  return out;
}

export interface RingQuality {
  samples: number;
  /** modes with >= minPerMode good samples */
  modesCovered: number;
  /** share of samples within 3 std of their nearest mode */
  goodShare: number;
  /** good samples per mode */
  perMode: number[];
  /** mean distance from a sample to its nearest mode (lower is better; continuous, for curves) */
  meanDistance: number;
}

export function ringQuality(points: Float32Array, spec: RingSpec = RING8, minPerMode?: number): RingQuality {
  const centres = ringCentres(spec);
  const n = points.length / 2;
  const need = minPerMode ?? Math.max(1, Math.round((20 / 2500) * n));
  const perMode = new Array<number>(spec.modes).fill(0);
  let good = 0;
  let dist = 0;
  for (let i = 0; i < n; i++) {
    const x = points[2 * i];
    const y = points[2 * i + 1];
    let best = Infinity;
    let bi = 0;
    for (let k = 0; k < centres.length; k++) {
      const d = Math.hypot(x - centres[k][0], y - centres[k][1]);
      if (d < best) { best = d; bi = k; }
    }
    dist += Number.isFinite(best) ? best : 1e6;
    if (best <= 3 * spec.std) {
      good++;
      perMode[bi]++;
    }
  }
  return {
    samples: n,
    modesCovered: perMode.filter((c) => c >= need).length,
    goodShare: n ? good / n : 0,
    perMode,
    meanDistance: n ? dist / n : 0,
  };
}
