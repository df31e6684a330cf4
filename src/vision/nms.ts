// Non-maximum suppression with darknet's do_nms_sort semantics, over sparse candidate entries:
// per class, best first, a box is removed when its IoU with an earlier SURVIVING box is strictly
// greater than the threshold (suppressed boxes suppress nothing). IoU is evaluated in float32 on
// (cx, cy, w, h) exactly as darknet's box_iou, so borderline cases fall the same way.
// Extras darknet lacks: class-agnostic mode, a class filter, pre-NMS top-k per class and maxDet.

import type { Candidates } from './candidates.ts';
import { checkInt, checkUnit, DEFAULT_MAX_DET, DEFAULT_PRE_NMS_TOPK } from './params.ts';

export { DEFAULT_MAX_DET, DEFAULT_PRE_NMS_TOPK } from './params.ts';

const f = Math.fround;

export interface NmsOptions {
  /** IoU threshold in [0, 1]; a box goes when IoU > nms (so 1 keeps everything). */
  nms: number;
  /** one suppression pool for all classes instead of one per class */
  agnostic?: boolean;
  /** keep only these class ids (applied before NMS, so filtered classes suppress nothing) */
  classes?: readonly number[] | ReadonlySet<number>;
  /** at most this many entries per class (per image when agnostic) enter NMS, best first.
   * Exact (darknet-equal) whenever no class has more candidates than this; a class can never have
   * more than H*W*num (1805 for yolov2@608). */
  preNmsTopK?: number;
  /** at most this many results per image, best first */
  maxDet?: number;
}

/** Indices (into the Candidates arrays) of the kept entries, best first. */
export type Kept = Int32Array;


/**
 * Reusable scratch so NMS over a batch allocates per image only its result. Sized on demand.
 */
class Scratch {
  order = new Int32Array(0);
  /** box edges per entry, in sorted order */
  left = new Float32Array(0);
  right = new Float32Array(0);
  top = new Float32Array(0);
  bottom = new Float32Array(0);
  area = new Float32Array(0);
  alive = new Uint8Array(0);
  keep = new Int32Array(0);
  ensure(n: number): void {
    if (this.order.length >= n) return;
    const cap = Math.max(n, this.order.length * 2, 256);
    this.order = new Int32Array(cap);
    this.left = new Float32Array(cap);
    this.right = new Float32Array(cap);
    this.top = new Float32Array(cap);
    this.bottom = new Float32Array(cap);
    this.area = new Float32Array(cap);
    this.alive = new Uint8Array(cap);
    this.keep = new Int32Array(cap);
  }
}

/** darknet box_iou in float32 on centre/size boxes. */
export function iouDarknet(ax: number, ay: number, aw: number, ah: number, bx: number, by: number, bw: number, bh: number): number {
  const ow = overlap(ax, aw, bx, bw);
  const oh = overlap(ay, ah, by, bh);
  const inter = ow < 0 || oh < 0 ? 0 : f(ow * oh);
  const union = f(f(f(aw * ah) + f(bw * bh)) - inter);
  return f(inter / union);
}

function overlap(x1: number, w1: number, x2: number, w2: number): number {
  const l1 = f(x1 - f(w1 / 2)), l2 = f(x2 - f(w2 / 2));
  const r1 = f(x1 + f(w1 / 2)), r2 = f(x2 + f(w2 / 2));
  return f((r1 < r2 ? r1 : r2) - (l1 > l2 ? l1 : l2));
}

function classFilter(classes: NmsOptions['classes']): ((c: number) => boolean) | null {
  if (!classes) return null;
  const set = classes instanceof Set ? classes : new Set(classes as readonly number[]);
  return (c) => set.has(c);
}

function nmsOne(c: Candidates, o: NmsOptions, s: Scratch): Kept {
  const nmsT = f(o.nms);
  const topK = o.preNmsTopK ?? DEFAULT_PRE_NMS_TOPK;
  const maxDet = o.maxDet ?? DEFAULT_MAX_DET;
  const keepCls = classFilter(o.classes);
  const agn = !!o.agnostic;
  s.ensure(c.count);
  const { order, left: l, right: r, top: t, bottom: b, area, alive, keep } = s;
  const { box, cls, prob, det } = c;
  let m = 0;
  for (let i = 0; i < c.count; i++) {
    // prob 0 never survives darknet's output filter (p > thresh >= 0); skip it up front.
    if (!(prob[i] > 0)) continue;
    if (keepCls && !keepCls(cls[i])) continue;
    order[m++] = i;
  }
  if (m === 0 || maxDet <= 0) return new Int32Array(0);
  // Group by class (one group when agnostic), best first; ties by darknet's box order so results
  // are deterministic (darknet's qsort leaves tie order unspecified).
  const ord = order.subarray(0, m);
  ord.sort((i, j) => (agn ? 0 : cls[i] - cls[j]) || prob[j] - prob[i] || det[i] - det[j] || cls[i] - cls[j]);
  // Box edges and areas once per entry, in darknet's float32 arithmetic.
  for (let k = 0; k < m; k++) {
    const i = ord[k], q = i * 4;
    const x = box[q], y = box[q + 1], w = box[q + 2], h = box[q + 3];
    const hw = f(w / 2), hh = f(h / 2);
    l[k] = f(x - hw); r[k] = f(x + hw);
    t[k] = f(y - hh); b[k] = f(y + hh);
    area[k] = f(w * h);
  }
  let nk = 0;
  let start = 0;
  while (start < m) {
    let end = start + 1;
    if (!agn) while (end < m && cls[ord[end]] === cls[ord[start]]) end++;
    else end = m;
    const stop = Math.min(end, start + topK);
    alive.fill(1, start, stop);
    let keptHere = 0;
    for (let k = start; k < stop && keptHere < maxDet; k++) {
      if (!alive[k]) continue;
      keep[nk++] = ord[k];
      // Once maxDet boxes of this class are kept, later ones cannot reach the image's top maxDet.
      keptHere++;
      const lk = l[k], rk = r[k], tk = t[k], bk = b[k], ak = area[k];
      for (let j = k + 1; j < stop; j++) {
        if (!alive[j]) continue;
        const ow = f((rk < r[j] ? rk : r[j]) - (lk > l[j] ? lk : l[j]));
        if (ow < 0) continue; // inter = 0 -> IoU 0, never > nms (nms >= 0)
        const oh = f((bk < b[j] ? bk : b[j]) - (tk > t[j] ? tk : t[j]));
        if (oh < 0) continue;
        const inter = f(ow * oh);
        const iou = f(inter / f(f(ak + area[j]) - inter));
        if (iou > nmsT) alive[j] = 0;
      }
    }
    start = end;
  }
  const kept = keep.slice(0, nk);
  // Best first across classes; same tie rule as above.
  kept.sort((i, j) => prob[j] - prob[i] || cls[i] - cls[j] || det[i] - det[j]);
  return nk > maxDet ? kept.slice(0, maxDet) : kept;
}

/**
 * NMS for one image, for offline callers: the options are checked (with params.ts's checks) since
 * they come straight from the caller. Returns indices of kept entries, best first.
 */
export function nms(c: Candidates, o: NmsOptions): Kept {
  checkUnit('nms', o.nms);
  if (o.preNmsTopK !== undefined) checkInt('preNmsTopK', o.preNmsTopK, 1);
  if (o.maxDet !== undefined) checkInt('max_det', o.maxDet, 0);
  if (o.classes) for (const k of o.classes) checkInt('classes', k, 0);
  return nmsOne(c, o, new Scratch());
}

/**
 * NMS over a whole batch (one Candidates per image), sharing scratch memory across images. Takes its
 * options as resolved (vision/params.ts): no checks here.
 */
export function nmsBatch(batch: readonly Candidates[], o: NmsOptions): Kept[] {
  const s = new Scratch();
  return batch.map((c) => nmsOne(c, o, s));
}
