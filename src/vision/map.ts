// Detection accuracy: Pascal VOC AP@0.5 with all-point interpolation (the VOC2010+ devkit) and COCO
// AP@[.5:.95] with 101-point interpolation (pycocotools' evaluateImg + accumulate, area range "all",
// 100 detections per image and class). Pure functions over plain arrays.
//
// Boxes are continuous pixel coordinates, so IoU has no "+1" (VOC loaders convert their 1-based
// inclusive corners to [xmin - 1, xmax], which gives the devkit's own areas). Ties in score keep
// input order (both references sort stably: pycocotools by mergesort; VOC's order on ties is
// unspecified). "difficult" ground truths are neither hits nor misses: a detection matching one is
// ignored (VOC's difficult; in COCO terms an ignored, crowd-like region that may absorb several).

export interface EvalBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface Prediction {
  imageId: string;
  classId: number;
  score: number;
  box: EvalBox;
}

export interface Truth {
  imageId: string;
  classId: number;
  box: EvalBox;
  difficult?: boolean;
}

export function iou(a: EvalBox, b: EvalBox): number {
  const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

/** Stable sort of indices by descending score. */
function byScore(preds: readonly Prediction[]): number[] {
  return preds.map((_, i) => i).sort((i, j) => preds[j].score - preds[i].score || i - j);
}

function groupByImage<T extends { imageId: string }>(items: readonly T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const l = m.get(it.imageId);
    if (l) l.push(it);
    else m.set(it.imageId, [it]);
  }
  return m;
}

/**
 * All-point interpolated AP (VOC2010+): precision made monotone from the right, summed over the
 * recall steps. `recall` must be non-decreasing (as a cumulative curve is).
 */
export function vocAveragePrecision(recall: readonly number[], precision: readonly number[]): number {
  const mrec = [0, ...recall, 1];
  const mpre = [0, ...precision, 0];
  for (let i = mpre.length - 2; i >= 0; i--) mpre[i] = Math.max(mpre[i], mpre[i + 1]);
  let ap = 0;
  for (let i = 1; i < mrec.length; i++) if (mrec[i] !== mrec[i - 1]) ap += (mrec[i] - mrec[i - 1]) * mpre[i];
  return ap;
}

export interface ClassCurve {
  /** non-difficult ground truths */
  npos: number;
  /** per detection in score order: 1 true positive, 0 false positive (ignored ones left out) */
  tp: number[];
  recall: number[];
  precision: number[];
  /** NaN when the class has no (non-difficult) ground truth */
  ap: number;
}

/**
 * VOC AP of one class (the devkit's VOCevaldet): detections in descending score; each takes the
 * ground truth of its image with the highest IoU; IoU > `thresh` (strictly, as the devkit) on an
 * unclaimed box is a hit, on a claimed one a false positive, on a difficult one ignored.
 */
export function vocClassAP(preds: readonly Prediction[], truths: readonly Truth[], classId: number, thresh = 0.5): ClassCurve {
  const p = preds.filter((d) => d.classId === classId);
  const gts = groupByImage(truths.filter((g) => g.classId === classId));
  const claimed = new Map<string, boolean[]>();
  for (const [id, l] of gts) claimed.set(id, l.map(() => false));
  let npos = 0;
  for (const l of gts.values()) for (const g of l) if (!g.difficult) npos++;
  const tp: number[] = [];
  for (const i of byScore(p)) {
    const d = p[i];
    const list = gts.get(d.imageId) ?? [];
    let best = -Infinity;
    let j = -1;
    list.forEach((g, k) => {
      const o = iou(d.box, g.box);
      if (o > best) {
        best = o;
        j = k;
      }
    });
    if (j >= 0 && best > thresh) {
      if (list[j].difficult) continue;
      const c = claimed.get(d.imageId)!;
      if (!c[j]) {
        c[j] = true;
        tp.push(1);
      } else tp.push(0);
    } else tp.push(0);
  }
  const recall: number[] = [];
  const precision: number[] = [];
  let ctp = 0;
  tp.forEach((t, k) => {
    ctp += t;
    recall.push(npos > 0 ? ctp / npos : 0);
    precision.push(ctp / (k + 1));
  });
  return { npos, tp, recall, precision, ap: npos > 0 ? vocAveragePrecision(recall, precision) : NaN };
}

/** np.linspace(start, stop, num) exactly as numpy computes it (i * step + start, last = stop). */
function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => i * step + start);
  out[num - 1] = stop;
  return out;
}

export const COCO_IOU_THRESHOLDS: readonly number[] = linspace(0.5, 0.95, 10);
export const COCO_RECALL_POINTS: readonly number[] = linspace(0, 1, 101);

export interface CocoClassResult {
  npig: number;
  /** AP at each IoU threshold of COCO_IOU_THRESHOLDS (NaN without ground truth) */
  apPerIou: number[];
  /** mean over the thresholds */
  ap: number;
}

/** pycocotools' evaluateImg + accumulate for one class, area range "all". */
export function cocoClassAP(preds: readonly Prediction[], truths: readonly Truth[], classId: number, maxDets = 100): CocoClassResult {
  const T = COCO_IOU_THRESHOLDS.length;
  const dets = groupByImage(preds.filter((d) => d.classId === classId));
  const gts = groupByImage(truths.filter((g) => g.classId === classId));
  const images = new Set([...gts.keys(), ...dets.keys()]);
  // concatenated over images (in first-seen order), as accumulate does
  const scores: number[] = [];
  const matched: boolean[][] = Array.from({ length: T }, () => []);
  const ignored: boolean[][] = Array.from({ length: T }, () => []);
  let npig = 0;
  for (const id of images) {
    // ignored ground truths go last (stable)
    const g = [...(gts.get(id) ?? [])].sort((a, b) => Number(!!a.difficult) - Number(!!b.difficult));
    const dl = dets.get(id) ?? [];
    const d = byScore(dl).slice(0, maxDets).map((i) => dl[i]);
    npig += g.filter((x) => !x.difficult).length;
    const ious = d.map((dd) => g.map((gg) => iou(dd.box, gg.box)));
    for (let t = 0; t < T; t++) {
      const gtTaken = g.map(() => false);
      for (let k = 0; k < d.length; k++) {
        let best = Math.min(COCO_IOU_THRESHOLDS[t], 1 - 1e-10);
        let m = -1;
        for (let j = 0; j < g.length; j++) {
          // an unignored box can be claimed once; ignored (difficult/crowd) ones absorb any number
          if (gtTaken[j] && !g[j].difficult) continue;
          // once matched to a real box, stop at the ignored ones (they are sorted last)
          if (m > -1 && !g[m].difficult && g[j].difficult) break;
          if (ious[k][j] < best) continue;
          best = ious[k][j];
          m = j;
        }
        if (m === -1) {
          matched[t].push(false);
          ignored[t].push(false);
        } else {
          gtTaken[m] = true;
          matched[t].push(true);
          ignored[t].push(!!g[m].difficult);
        }
      }
    }
    for (const dd of d) scores.push(dd.score);
  }
  const apPerIou: number[] = [];
  if (npig === 0) {
    for (let t = 0; t < T; t++) apPerIou.push(NaN);
    return { npig, apPerIou, ap: NaN };
  }
  const order = scores.map((_, i) => i).sort((i, j) => scores[j] - scores[i] || i - j);
  const eps = 2.220446049250313e-16; // np.spacing(1)
  for (let t = 0; t < T; t++) {
    const rc: number[] = [];
    const pr: number[] = [];
    let tp = 0;
    let fp = 0;
    for (const i of order) {
      if (ignored[t][i]) continue;
      if (matched[t][i]) tp++;
      else fp++;
      rc.push(tp / npig);
      pr.push(tp / (tp + fp + eps));
    }
    for (let i = pr.length - 1; i > 0; i--) if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
    let sum = 0;
    let r = 0;
    for (const thr of COCO_RECALL_POINTS) {
      // searchsorted(rc, thr, side='left'): first index with rc >= thr; past the end counts 0
      while (r < rc.length && rc[r] < thr) r++;
      if (r < rc.length) sum += pr[r];
    }
    apPerIou.push(sum / COCO_RECALL_POINTS.length);
  }
  return { npig, apPerIou, ap: apPerIou.reduce((a, b) => a + b, 0) / T };
}

export interface ClassMetrics {
  classId: number;
  name: string;
  /** non-difficult ground-truth boxes */
  gt: number;
  /** VOC AP@0.5 (NaN without ground truth) */
  ap50: number;
  /** COCO AP@[.5:.95] */
  ap: number;
  /** COCO AP@0.5 (101-point) and @0.75 */
  ap50Coco: number;
  ap75: number;
}

export interface DetectionMetrics {
  /** VOC mAP@0.5 over classes with ground truth */
  map50: number;
  /** COCO mAP@[.5:.95] over classes with ground truth */
  map: number;
  map75: number;
  perClass: ClassMetrics[];
}

function mean(xs: number[]): number {
  const v = xs.filter((x) => !Number.isNaN(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
}

/** Every metric over classes 0..names.length-1; classes with no ground truth are left out of the means. */
export function evaluateDetections(preds: readonly Prediction[], truths: readonly Truth[], names: readonly string[]): DetectionMetrics {
  for (const p of preds) {
    if (!Number.isFinite(p.score)) throw new RangeError(`prediction with non-finite score in image ${p.imageId}`);
  }
  const perClass: ClassMetrics[] = names.map((name, classId) => {
    const v = vocClassAP(preds, truths, classId, 0.5);
    const c = cocoClassAP(preds, truths, classId);
    return { classId, name, gt: v.npos, ap50: v.ap, ap: c.ap, ap50Coco: c.apPerIou[0], ap75: c.apPerIou[5] };
  });
  return {
    map50: mean(perClass.map((c) => c.ap50)),
    map: mean(perClass.map((c) => c.ap)),
    map75: mean(perClass.map((c) => c.ap75)),
    perClass,
  };
}

/** The `pinhole eval --json` object (SPEC): per_class holds VOC AP@0.5 of classes with ground truth. */
export function evalJson(m: DetectionMetrics): { map50: number; map: number; per_class: Record<string, number> } {
  const per_class: Record<string, number> = {};
  for (const c of m.perClass) if (!Number.isNaN(c.ap50)) per_class[c.name] = c.ap50;
  return { map50: Number.isNaN(m.map50) ? 0 : m.map50, map: Number.isNaN(m.map) ? 0 : m.map, per_class };
}
