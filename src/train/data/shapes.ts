// Shape geometry for the scene generator as signed distance functions (pixels, negative inside),
// in a local frame whose bounding box is centred on the origin. Distances rather than inside tests
// give anti-aliasing for free: coverage = clamp(0.5 - d, 0, 1).
import type { Rng } from './rng.ts';

export type Sdf = (x: number, y: number) => number;

export interface ShapeGeom {
  sdf: Sdf;
  /** half extents of the local (unrotated) bounding box, centred on the origin */
  hx: number;
  hy: number;
}

function boxSdf(x: number, y: number, bx: number, by: number): number {
  const qx = Math.abs(x) - bx;
  const qy = Math.abs(y) - by;
  const ox = qx > 0 ? qx : 0;
  const oy = qy > 0 ? qy : 0;
  return Math.sqrt(ox * ox + oy * oy) + Math.min(Math.max(qx, qy), 0);
}

/** Polygon distance (any simple polygon): nearest edge distance, sign from the crossing parity. */
function polygonSdf(pts: number[]): Sdf {
  const n = pts.length / 2;
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xs[i] = pts[2 * i];
    ys[i] = pts[2 * i + 1];
  }
  return (x, y) => {
    let best = Infinity;
    let inside = false;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const ex = xs[j] - xs[i];
      const ey = ys[j] - ys[i];
      const wx = x - xs[i];
      const wy = y - ys[i];
      let t = (wx * ex + wy * ey) / (ex * ex + ey * ey);
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const bx = wx - ex * t;
      const by = wy - ey * t;
      const d = bx * bx + by * by;
      if (d < best) best = d;
      if ((ys[i] > y) !== (ys[j] > y) && x < xs[i] + ((y - ys[i]) * ex) / ey) inside = !inside;
    }
    const d = Math.sqrt(best);
    return inside ? -d : d;
  };
}

/** Re-centres a polygon on its bounding box and returns its geometry. */
function polygon(pts: number[]): ShapeGeom {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i < pts.length; i += 2) {
    x0 = Math.min(x0, pts[i]); x1 = Math.max(x1, pts[i]);
    y0 = Math.min(y0, pts[i + 1]); y1 = Math.max(y1, pts[i + 1]);
  }
  const mx = (x0 + x1) / 2;
  const my = (y0 + y1) / 2;
  const c = pts.map((v, i) => (i % 2 === 0 ? v - mx : v - my));
  return { sdf: polygonSdf(c), hx: (x1 - x0) / 2, hy: (y1 - y0) / 2 };
}

function regular(n: number, r: number, phase: number, inner = 0): number[] {
  const pts: number[] = [];
  const k = inner > 0 ? 2 * n : n;
  for (let i = 0; i < k; i++) {
    const rad = inner > 0 && i % 2 === 1 ? inner : r;
    const a = phase + (2 * Math.PI * i) / k;
    pts.push(rad * Math.cos(a), rad * Math.sin(a));
  }
  return pts;
}

/** One builder per class, in SHAPE_CLASSES order: (major dimension, its half, the scene's random stream). */
const SHAPE_BUILDERS: Array<(size: number, h: number, rng: Rng) => ShapeGeom> = [
  // circle
  (size, h) => ({ sdf: (x, y) => Math.sqrt(x * x + y * y) - h, hx: h, hy: h }),
  // ellipse: iq-style first-order distance estimate, exact on the axes
  (size, h, rng) => {
    const a = h;
    const b = h / rng.range(1.6, 2.6);
    return {
      sdf: (x, y) => {
        const k0 = Math.sqrt((x * x) / (a * a) + (y * y) / (b * b));
        const k1 = Math.sqrt((x * x) / (a * a * a * a) + (y * y) / (b * b * b * b));
        return k1 === 0 ? -b : (k0 * (k0 - 1)) / k1;
      },
      hx: a,
      hy: b,
    };
  },
  // square
  (size, h) => ({ sdf: (x, y) => boxSdf(x, y, h, h), hx: h, hy: h }),
  // rectangle
  (size, h, rng) => {
    const b = h / rng.range(1.7, 3.2);
    return { sdf: (x, y) => boxSdf(x, y, h, b), hx: h, hy: b };
  },
  // rhombus: diagonals 1.6-2.6 apart (1:1 would be a square on its corner)
  (size, h, rng) => {
    const b = h / rng.range(1.6, 2.6);
    return polygon([-h, 0, 0, -b, h, 0, 0, b]);
  },
  // isosceles trapezoid
  (size, h, rng) => {
    const top = h * rng.range(0.3, 0.6);
    const hh = h * rng.range(0.45, 0.8);
    return polygon([-h, hh, h, hh, top, -hh, -top, -hh]);
  },
  // equilateral triangle, width = size
  (size, h) => polygon(regular(3, size / Math.sqrt(3), -Math.PI / 2)),
  // right triangle, mirrored half the time (rotation alone cannot mirror)
  (size, h, rng) => {
    const b = size * rng.range(0.45, 1);
    const s = rng.chance(0.5) ? 1 : -1;
    return polygon([-h * s, b / 2, h * s, b / 2, -h * s, -b / 2]);
  },
  // pentagon
  (size, h) => polygon(regular(5, h, -Math.PI / 2)),
  // hexagon
  (size, h) => polygon(regular(6, h, 0)),
  // five-pointed star
  (size, h, rng) => polygon(regular(5, h, -Math.PI / 2, h * rng.range(0.38, 0.5))),
  // cross: two bars, arms possibly unequal
  (size, h, rng) => {
    const t = h * rng.range(0.2, 0.32);
    const v = h * rng.range(0.8, 1);
    return { sdf: (x, y) => Math.min(boxSdf(x, y, h, t), boxSdf(x, y, t, v)), hx: h, hy: v };
  },
  // crescent: a disc minus an offset disc
  (size, h, rng) => {
    const r2 = h * rng.range(0.78, 0.95);
    const d = h * rng.range(0.38, 0.6);
    return {
      sdf: (x, y) => {
        const outer = Math.sqrt(x * x + y * y) - h;
        const inner = Math.sqrt((x - d) * (x - d) + y * y) - r2;
        return Math.max(outer, -inner);
      },
      hx: h,
      hy: h,
    };
  },
  // arrow pointing +x
  (size, h, rng) => {
    const t = size * rng.range(0.07, 0.12);
    const hl = size * rng.range(0.3, 0.42);
    const hw = size * rng.range(0.2, 0.3);
    const neck = h - hl;
    return polygon([-h, -t, neck, -t, neck, -hw, h, 0, neck, hw, neck, t, -h, t]);
  },
  // heart: a square on its corner with a disc on each upper side
  (size, h, rng) => {
    const D = size / (1 + Math.SQRT2);
    const half = D / Math.SQRT2; // half side of the square
    const r = half;
    const oy = -0.1035533906 * D; // centre of the bounding box (top -(0.5+1/sqrt2)D, bottom +D)
    return {
      sdf: (x, y) => {
        const yy = y + oy;
        const u = (x + yy) / Math.SQRT2;
        const v = (yy - x) / Math.SQRT2;
        const sq = boxSdf(u, v, half, half);
        const ax = Math.abs(x);
        const c = Math.sqrt((ax - D / 2) * (ax - D / 2) + (yy + D / 2) * (yy + D / 2)) - r;
        return Math.min(sq, c);
      },
      hx: size / 2,
      hy: (D * (1.5 + Math.SQRT1_2)) / 2,
    };
  },
  // ring (annulus)
  (size, h, rng) => {
    const inner = h * rng.range(0.45, 0.68);
    const mid = (h + inner) / 2;
    const half = (h - inner) / 2;
    return { sdf: (x, y) => Math.abs(Math.sqrt(x * x + y * y) - mid) - half, hx: h, hy: h };
  },
];

/**
 * Builds class `cls` (index into SHAPE_CLASSES) with major dimension `size` pixels. Aspect ranges are
 * kept away from the neighbouring class (rectangle vs square, ellipse vs circle, rhombus vs square)
 * so that the label is decidable from the pixels.
 */
export function makeShape(cls: number, size: number, rng: Rng): ShapeGeom {
  const build = SHAPE_BUILDERS[cls];
  if (!build) throw new RangeError(`no shape class ${cls}`);
  return build(size, size / 2, rng);
}

/** Capsule (thick segment) distance, for clutter strokes. */
export function segmentSdf(ax: number, ay: number, bx: number, by: number, r: number): Sdf {
  const ex = bx - ax;
  const ey = by - ay;
  const ee = ex * ex + ey * ey || 1;
  return (x, y) => {
    const wx = x - ax;
    const wy = y - ay;
    let t = (wx * ex + wy * ey) / ee;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    const dx = wx - ex * t;
    const dy = wy - ey * t;
    return Math.sqrt(dx * dx + dy * dy) - r;
  };
}
