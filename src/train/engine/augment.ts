// Training-time image preparation: the sample is placed into the network input the way serving will
// place it (letterbox on a .5 canvas, or a plain resize), with darknet-style augmentation on top when an
// Rng is given: aspect/scale jitter and a random position (load_data_detection), horizontal flip, and
// hue / saturation / exposure distortion. Output is RGB/255 NHWC float32, boxes as fractions of the
// network input in centre form. Pure JS: it runs in the input-pipeline worker.
import { pasteGeometry, type PreprocessMode } from '../../vision/letterbox.ts';
import type { GroundTruth } from '../data/types.ts';
import type { Rng } from './rng.ts';

export interface AugmentOptions {
  /** aspect-ratio jitter, as darknet's `jitter` (fraction of each side) */
  jitter: number;
  /** range of the placed image's scale relative to the plain fit */
  scale: [number, number];
  flip: boolean;
  hue: number;
  saturation: number;
  exposure: number;
  /** boxes keeping less than this fraction of their area inside the input are dropped */
  minVisible: number;
}

export const DEFAULT_AUGMENT: AugmentOptions = {
  jitter: 0.2, scale: [0.75, 1.25], flip: true, hue: 0.1, saturation: 1.5, exposure: 1.5, minVisible: 0.35,
};

export interface PlacedBox {
  x: number;
  y: number;
  w: number;
  h: number;
  classId: number;
}

export interface Prepared {
  /** size x size x 3, RGB / 255 */
  pixels: Float32Array;
  boxes: PlacedBox[];
}

/**
 * Draws the image into `out` (at `offset`, size x size x 3) and maps its boxes. Without an Rng this is
 * exactly the serving geometry (src/vision/letterbox.ts) with bilinear sampling.
 */
export function prepareImage(rgb: Uint8Array, width: number, height: number, boxes: readonly GroundTruth[], size: number,
  mode: PreprocessMode, out: Float32Array, offset: number, rng?: Rng, aug: AugmentOptions = DEFAULT_AUGMENT): PlacedBox[] {
  // where the image lands: [px, px + pw) x [py, py + ph) in network pixels
  const g = pasteGeometry(mode, width, height, size, size);
  let pw = g.newW;
  let ph = g.newH;
  let px = g.dx;
  let py = g.dy;
  let flip = false;
  if (rng) {
    const ar = (width * (1 + rng.uniform(-aug.jitter, aug.jitter))) / (height * (1 + rng.uniform(-aug.jitter, aug.jitter)));
    const s = rng.uniform(aug.scale[0], aug.scale[1]);
    if (mode === 'resize') {
      // the served image always fills the input: jitter only the stretch, not the placement
      pw = size * s * Math.sqrt(ar / (width / height));
      ph = size * s / Math.sqrt(ar / (width / height));
    } else if (ar >= 1) {
      pw = size * s;
      ph = pw / ar;
    } else {
      ph = size * s;
      pw = ph * ar;
    }
    px = rng.uniform(Math.min(0, size - pw), Math.max(0, size - pw));
    py = rng.uniform(Math.min(0, size - ph), Math.max(0, size - ph));
    flip = aug.flip && rng.next() < 0.5;
  }
  sample(rgb, width, height, size, px, py, pw, ph, flip, out, offset);
  if (rng) distort(out, offset, size * size, rng, aug);

  const placed: PlacedBox[] = [];
  for (const b of boxes) {
    let x1 = px + (b.x1 / width) * pw;
    let x2 = px + (b.x2 / width) * pw;
    if (flip) [x1, x2] = [size - x2, size - x1];
    const y1 = py + (b.y1 / height) * ph;
    const y2 = py + (b.y2 / height) * ph;
    const area = (x2 - x1) * (y2 - y1);
    const cx1 = Math.max(0, x1);
    const cy1 = Math.max(0, y1);
    const cx2 = Math.min(size, x2);
    const cy2 = Math.min(size, y2);
    if (cx2 - cx1 < 2 || cy2 - cy1 < 2 || area <= 0) continue;
    if (((cx2 - cx1) * (cy2 - cy1)) / area < aug.minVisible) continue;
    placed.push({ x: (cx1 + cx2) / 2 / size, y: (cy1 + cy2) / 2 / size, w: (cx2 - cx1) / size, h: (cy2 - cy1) / size, classId: b.classId });
  }
  return placed;
}

const INV255 = 1 / 255;

/** Bilinear resample of the image into the rectangle (px, py, pw, ph) of a .5 canvas. */
function sample(rgb: Uint8Array, w: number, h: number, size: number, px: number, py: number, pw: number, ph: number,
  flip: boolean, out: Float32Array, offset: number): void {
  const sx = w / pw;
  const sy = h / ph;
  for (let oy = 0; oy < size; oy++) {
    const fy = (oy + 0.5 - py) * sy - 0.5;
    const row = offset + oy * size * 3;
    if (fy < -0.5 || fy > h - 0.5) {
      out.fill(0.5, row, row + size * 3);
      continue;
    }
    const y0 = Math.max(0, Math.floor(fy));
    const y1 = Math.min(h - 1, y0 + 1);
    const wy = Math.min(1, Math.max(0, fy - y0));
    for (let ox = 0; ox < size; ox++) {
      const o = row + ox * 3;
      const tx = flip ? size - 1 - ox : ox;
      const fx = (tx + 0.5 - px) * sx - 0.5;
      if (fx < -0.5 || fx > w - 0.5) {
        out[o] = out[o + 1] = out[o + 2] = 0.5;
        continue;
      }
      const x0 = Math.max(0, Math.floor(fx));
      const x1 = Math.min(w - 1, x0 + 1);
      const wx = Math.min(1, Math.max(0, fx - x0));
      const a = (y0 * w + x0) * 3;
      const b = (y0 * w + x1) * 3;
      const c = (y1 * w + x0) * 3;
      const d = (y1 * w + x1) * 3;
      for (let k = 0; k < 3; k++) {
        const top = rgb[a + k] + (rgb[b + k] - rgb[a + k]) * wx;
        const bot = rgb[c + k] + (rgb[d + k] - rgb[c + k]) * wx;
        out[o + k] = (top + (bot - top) * wy) * INV255;
      }
    }
  }
}

/** darknet random_distort_image: hue shift, saturation and exposure scales, in HSV. */
function distort(px: Float32Array, offset: number, n: number, rng: Rng, aug: AugmentOptions): void {
  const dhue = rng.uniform(-aug.hue, aug.hue);
  const scale = (s: number) => {
    const v = rng.uniform(1, s);
    return rng.next() < 0.5 ? v : 1 / v;
  };
  const dsat = scale(aug.saturation);
  const dexp = scale(aug.exposure);
  for (let i = 0; i < n; i++) {
    const o = offset + i * 3;
    const r = px[o], g = px[o + 1], b = px[o + 2];
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    const delta = max - min;
    let hh = 0;
    let s = max === 0 ? 0 : delta / max;
    let v = max;
    if (delta > 0) {
      if (r === max) hh = (g - b) / delta;
      else if (g === max) hh = 2 + (b - r) / delta;
      else hh = 4 + (r - g) / delta;
      hh /= 6;
    }
    hh += dhue;
    hh -= Math.floor(hh);
    s = Math.min(1, s * dsat);
    v = Math.min(1, v * dexp);
    // back to RGB
    const h6 = hh * 6;
    const k = Math.floor(h6);
    const f = h6 - k;
    const p = v * (1 - s);
    const q = v * (1 - s * f);
    const t = v * (1 - s * (1 - f));
    let rr, gg, bb;
    switch (k % 6) {
      case 0: rr = v; gg = t; bb = p; break;
      case 1: rr = q; gg = v; bb = p; break;
      case 2: rr = p; gg = v; bb = t; break;
      case 3: rr = p; gg = q; bb = v; break;
      case 4: rr = t; gg = p; bb = v; break;
      default: rr = v; gg = p; bb = q;
    }
    px[o] = rr;
    px[o + 1] = gg;
    px[o + 2] = bb;
  }
}
