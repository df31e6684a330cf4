// A small float RGB canvas for the scene generator: textured backgrounds, anti-aliased coverage of
// signed-distance shapes, per-pixel noise. Pure TypeScript so that a seed gives the same bytes on
// every machine (no dependence on a native renderer's version).
import { Rng } from './rng.ts';
import type { Sdf } from './shapes.ts';

export type RGB = readonly [number, number, number];

export interface Canvas {
  width: number;
  height: number;
  /** HWC, 0..255 floats */
  data: Float32Array;
}

export function newCanvas(width: number, height: number): Canvas {
  return { width, height, data: new Float32Array(width * height * 3) };
}

export function fill(c: Canvas, col: RGB): void {
  const d = c.data;
  for (let i = 0; i < d.length; i += 3) {
    d[i] = col[0];
    d[i + 1] = col[1];
    d[i + 2] = col[2];
  }
}

/** Linear gradient from c0 to c1 along direction `angle`. */
export function fillGradient(c: Canvas, c0: RGB, c1: RGB, angle: number): void {
  const { width: w, height: h, data: d } = c;
  const ux = Math.cos(angle);
  const uy = Math.sin(angle);
  const span = Math.abs(ux) * w + Math.abs(uy) * h || 1;
  const off = (ux < 0 ? -ux * w : 0) + (uy < 0 ? -uy * h : 0);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const t = (x * ux + y * uy + off) / span;
      const i = (y * w + x) * 3;
      d[i] = c0[0] + (c1[0] - c0[0]) * t;
      d[i + 1] = c0[1] + (c1[1] - c0[1]) * t;
      d[i + 2] = c0[2] + (c1[2] - c0[2]) * t;
    }
  }
}

/** Adds stripes (soft sine or hard square wave) of colour offset `amp` along `angle`. */
export function addStripes(c: Canvas, angle: number, period: number, amp: RGB, hard: boolean): void {
  const { width: w, height: h, data: d } = c;
  const fx = (Math.cos(angle) * 2 * Math.PI) / period;
  const fy = (Math.sin(angle) * 2 * Math.PI) / period;
  // sin(x fx + y fy) = sin(x fx) cos(y fy) + cos(x fx) sin(y fy): one table per axis, no sin per pixel
  const sx = new Float32Array(w);
  const cx = new Float32Array(w);
  for (let x = 0; x < w; x++) {
    sx[x] = Math.sin(x * fx);
    cx[x] = Math.cos(x * fx);
  }
  for (let y = 0; y < h; y++) {
    const sy = Math.sin(y * fy);
    const cy = Math.cos(y * fy);
    for (let x = 0; x < w; x++) {
      let s = sx[x] * cy + cx[x] * sy;
      if (hard) s = s > 0 ? 1 : -1;
      const i = (y * w + x) * 3;
      d[i] += amp[0] * s;
      d[i + 1] += amp[1] * s;
      d[i + 2] += amp[2] * s;
    }
  }
}

/** Low-frequency blotches: random values on a coarse grid, smoothly interpolated. */
export function addValueNoise(c: Canvas, rng: Rng, cells: number, amp: number, colourful: boolean): void {
  const { width: w, height: h, data: d } = c;
  const gw = cells + 2;
  const grid = new Float32Array(gw * gw * 3);
  for (let i = 0; i < grid.length; i += 3) {
    const v = rng.range(-1, 1);
    grid[i] = colourful ? rng.range(-1, 1) : v;
    grid[i + 1] = colourful ? rng.range(-1, 1) : v;
    grid[i + 2] = colourful ? rng.range(-1, 1) : v;
  }
  const sx = cells / w;
  const sy = cells / h;
  // per column: grid cell and smoothstep weight
  const ixs = new Int32Array(w);
  const txs = new Float32Array(w);
  for (let x = 0; x < w; x++) {
    const gx = x * sx;
    ixs[x] = Math.floor(gx);
    const t = gx - ixs[x];
    txs[x] = t * t * (3 - 2 * t);
  }
  const row = new Float32Array(gw * 3);
  for (let y = 0; y < h; y++) {
    const gy = y * sy;
    const iy = Math.floor(gy);
    let ty = gy - iy;
    ty = ty * ty * (3 - 2 * ty);
    // blend the two grid rows once per image row; pixels then only blend along x
    const a = iy * gw * 3;
    const b = a + gw * 3;
    for (let k = 0; k < gw * 3; k++) row[k] = grid[a + k] + (grid[b + k] - grid[a + k]) * ty;
    for (let x = 0; x < w; x++) {
      const j = ixs[x] * 3;
      const tx = txs[x];
      const i = (y * w + x) * 3;
      d[i] += amp * (row[j] + (row[j + 3] - row[j]) * tx);
      d[i + 1] += amp * (row[j + 1] + (row[j + 4] - row[j + 1]) * tx);
      d[i + 2] += amp * (row[j + 2] + (row[j + 5] - row[j + 2]) * tx);
    }
  }
}

/** Per-pixel coverage of an SDF placed at (cx, cy) rotated by `angle`, over its bounding region. */
export interface Coverage {
  x0: number;
  y0: number;
  w: number;
  h: number;
  /** signed distance to the shape edge per pixel (w*h); coverage = clamp(0.5 - dist, 0, 1) */
  dist: Float32Array;
  /** pixels with coverage >= 0.5 */
  area: number;
}

export function rasterise(sdf: Sdf, cx: number, cy: number, angle: number, ex: number, ey: number, W: number, H: number): Coverage {
  const x0 = Math.max(0, Math.floor(cx - ex - 1));
  const y0 = Math.max(0, Math.floor(cy - ey - 1));
  const x1 = Math.min(W, Math.ceil(cx + ex + 1));
  const y1 = Math.min(H, Math.ceil(cy + ey + 1));
  const w = Math.max(0, x1 - x0);
  const h = Math.max(0, y1 - y0);
  const dist = new Float32Array(w * h);
  const cs = Math.cos(angle);
  const sn = Math.sin(angle);
  let area = 0;
  for (let y = 0; y < h; y++) {
    const dy = y0 + y + 0.5 - cy;
    for (let x = 0; x < w; x++) {
      const dx = x0 + x + 0.5 - cx;
      // pixel -> local frame: rotate by -angle
      const d = sdf(cs * dx + sn * dy, -sn * dx + cs * dy);
      dist[y * w + x] = d;
      if (d <= 0) area++;
    }
  }
  return { x0, y0, w, h, dist, area };
}

export function coverage(d: number): number {
  const v = 0.5 - d;
  return v <= 0 ? 0 : v >= 1 ? 1 : v;
}

export interface Paint {
  col: RGB;
  /** multiplicative brightness per pixel (a lit look); 1 when absent */
  shade?: (x: number, y: number) => number;
  /** an outline of this width (px) in colour `outlineCol` */
  outline?: number;
  outlineCol?: RGB;
}

/** Composites a shape (its distance field) onto the canvas. */
export function blend(c: Canvas, m: Coverage, p: Paint): void {
  const { width: W, data: d } = c;
  const { col, shade, outline = 0, outlineCol = col } = p;
  for (let y = 0; y < m.h; y++) {
    for (let x = 0; x < m.w; x++) {
      const dist = m.dist[y * m.w + x];
      const a = coverage(dist);
      if (a <= 0) continue;
      const px = m.x0 + x;
      const py = m.y0 + y;
      const i = (py * W + px) * 3;
      const f = shade ? shade(px, py) : 1;
      let r = col[0] * f;
      let g = col[1] * f;
      let b = col[2] * f;
      if (outline > 0) {
        // outside the shape shrunk by the outline width, the outline colour shows
        const o = 1 - coverage(dist + outline);
        r += (outlineCol[0] - r) * o;
        g += (outlineCol[1] - g) * o;
        b += (outlineCol[2] - b) * o;
      }
      d[i] += (r - d[i]) * a;
      d[i + 1] += (g - d[i + 1]) * a;
      d[i + 2] += (b - d[i + 2]) * a;
    }
  }
}

/** Mean colour of the canvas over a rectangle (used to keep objects visible against the background). */
export function meanColour(c: Canvas, x0: number, y0: number, w: number, h: number): [number, number, number] {
  const s = [0, 0, 0];
  let n = 0;
  const step = Math.max(1, Math.floor(Math.min(w, h) / 8));
  for (let y = y0; y < y0 + h; y += step) {
    for (let x = x0; x < x0 + w; x += step) {
      const i = (y * c.width + x) * 3;
      s[0] += c.data[i];
      s[1] += c.data[i + 1];
      s[2] += c.data[i + 2];
      n++;
    }
  }
  return n ? [s[0] / n, s[1] / n, s[2] / n] : [0, 0, 0];
}

// One shared table of standard-normal draws, generated from a fixed seed at load: per-pixel noise
// then costs one integer draw per channel instead of a Box-Muller transform.
const NORMAL_TABLE_BITS = 16;
let normalTable: Float32Array | undefined;
function normals(): Float32Array {
  if (normalTable) return normalTable;
  const t = new Float32Array(1 << NORMAL_TABLE_BITS);
  // a dedicated stream so the table never depends on which image asked first
  const r = new Rng(0x5eed, 0xa11);
  for (let i = 0; i < t.length; i++) t[i] = r.normal();
  normalTable = t;
  return t;
}

/** Adds Gaussian pixel noise (sigma in 0..255 units) and rounds to 8-bit RGB. */
export function toUint8(c: Canvas, rng: Rng, sigma: number): Uint8Array {
  const d = c.data;
  const out = new Uint8Array(d.length);
  if (sigma > 0) {
    const t = normals();
    const mask = (1 << NORMAL_TABLE_BITS) - 1;
    // xorshift32 inlined, seeded from the image's stream: a method call per pixel costs 4x more
    let x = rng.u32() | 1;
    for (let i = 0; i < d.length; i += 2) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const v = d[i] + sigma * t[x & mask] + 0.5;
      out[i] = v <= 0 ? 0 : v >= 255 ? 255 : v;
      if (i + 1 < d.length) {
        const u = d[i + 1] + sigma * t[(x >>> 16) & mask] + 0.5;
        out[i + 1] = u <= 0 ? 0 : u >= 255 ? 255 : u;
      }
    }
  } else {
    for (let i = 0; i < d.length; i++) {
      const v = d[i] + 0.5;
      out[i] = v <= 0 ? 0 : v >= 255 ? 255 : v;
    }
  }
  return out;
}
