// YOLOv2 dimension clusters: k-means on the training boxes' (w, h) with d(box, centroid) = 1 - IoU,
// the boxes compared as if they shared a centre (YOLOv2 paper, section "Dimension Clusters").
import { shapeIou } from './box.ts';
import { Rng } from '../engine/rng.ts';

export interface Shape {
  w: number;
  h: number;
}

export interface AnchorResult {
  /** centroids sorted by area, smallest first */
  anchors: Shape[];
  /** mean over boxes of the IoU with their nearest centroid (the paper's "Avg IOU") */
  avgIou: number;
  iterations: number;
}

function nearest(b: Shape, cs: Shape[]): { index: number; iou: number } {
  let index = 0;
  let iou = -1;
  for (let k = 0; k < cs.length; k++) {
    const v = shapeIou(b.w, b.h, cs[k].w, cs[k].h);
    if (v > iou) {
      iou = v;
      index = k;
    }
  }
  return { index, iou };
}

/**
 * Clusters box shapes into k anchors. Seeding is k-means++ under the same 1 - IoU distance, so
 * the result depends only on the boxes and the seed.
 */
export function kmeansAnchors(boxes: readonly Shape[], k: number, seed = 0, maxIter = 300): AnchorResult {
  const pts = boxes.filter((b) => b.w > 0 && b.h > 0);
  if (!Number.isInteger(k) || k < 1) throw new Error(`anchor count must be a positive integer, got ${k}`);
  if (pts.length < k) throw new Error(`need at least ${k} boxes with positive size to find ${k} anchors, got ${pts.length}`);
  const rng = new Rng([seed, 0x616e63]);
  const cs: Shape[] = [{ ...pts[rng.int(pts.length)] }];
  const d = new Float64Array(pts.length);
  while (cs.length < k) {
    let total = 0;
    for (let i = 0; i < pts.length; i++) {
      const v = 1 - nearest(pts[i], cs).iou;
      d[i] = v * v;
      total += d[i];
    }
    let pick = 0;
    if (total > 0) {
      let r = rng.next() * total;
      while (pick < pts.length - 1 && (r -= d[pick]) > 0) pick++;
    } else {
      pick = rng.int(pts.length);
    }
    cs.push({ ...pts[pick] });
  }
  const assign = new Int32Array(pts.length).fill(-1);
  let iterations = 0;
  for (; iterations < maxIter; iterations++) {
    let changed = 0;
    for (let i = 0; i < pts.length; i++) {
      const n = nearest(pts[i], cs).index;
      if (n !== assign[i]) {
        assign[i] = n;
        changed++;
      }
    }
    if (changed === 0) break;
    const sw = new Float64Array(k);
    const sh = new Float64Array(k);
    const cnt = new Float64Array(k);
    for (let i = 0; i < pts.length; i++) {
      sw[assign[i]] += pts[i].w;
      sh[assign[i]] += pts[i].h;
      cnt[assign[i]]++;
    }
    for (let c = 0; c < k; c++) {
      // an emptied cluster keeps its centroid; it may win boxes back next round
      if (cnt[c] > 0) cs[c] = { w: sw[c] / cnt[c], h: sh[c] / cnt[c] };
    }
  }
  let sum = 0;
  for (const b of pts) sum += nearest(b, cs).iou;
  cs.sort((a, b) => a.w * a.h - b.w * b.h);
  return { anchors: cs, avgIou: sum / pts.length, iterations };
}
