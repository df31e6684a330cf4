// YOLOv2 / YOLO9000 loss, as darknet's region layer computes it (region_layer.c, forward_region_layer),
// written as a differentiable function of the raw conv output so autodiff gives the same gradients as
// darknet's hand-written deltas (with the logistic derivative of its GPU path):
//   0.5 * sum W_box * (act - T_box)^2  over act = [sigmoid(tx), sigmoid(ty), tw, th, sigmoid(to)]
//   - sum W_cls * log softmax(classes)   (flat softmax, or one softmax per WordTree sibling group)
// Which predictors get which targets depends on the current predictions (noobj IoU threshold,
// rescored objectness, YOLO9000's best box for a classification image): regionTargets decides it in JS.
import { tf } from '../backend.ts';
import { boxIou, shapeIou, type CBox } from './box.ts';
import { pathToRoot, type TreeIndex } from '../wordtree/tree.ts';
import type { ClsPick, LossStats, TrainTarget } from './types.ts';

export interface RegionLossConfig {
  num: number;
  classes: number;
  /** (w, h) pairs in grid cells */
  anchors: number[];
  objectScale: number;
  noobjectScale: number;
  classScale: number;
  coordScale: number;
  /** predictions overlapping a truth by more than this are not pushed towards objectness 0 */
  thresh: number;
  rescore: boolean;
  /** images seen before which every predictor is also pulled towards its anchor (darknet: 12800) */
  warmupImages: number;
  tree?: TreeIndex;
  /** YOLO9000 classification images (default 'probability', the paper's rule) */
  clsPick?: ClsPick;
}

/** yolo-voc.cfg's region settings. */
export const REGION_DEFAULTS = {
  objectScale: 5, noobjectScale: 1, classScale: 1, coordScale: 1, thresh: 0.6, rescore: true, warmupImages: 12800,
} as const;

export interface RegionTargets {
  /** [N, H, W, num, 5]: tx ty tw th to */
  boxT: Float32Array;
  boxW: Float32Array;
  /** [N, H, W, num, classes]: weight on log p(class | parent) */
  clsW: Float32Array;
  stats: LossStats;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** One batch's targets in the making: the predictions read, the arrays filled, and running figures. */
class TargetBuilder {
  readonly A: number;
  readonly C: number;
  readonly E: number;
  readonly boxT: Float32Array;
  readonly boxW: Float32Array;
  readonly clsW: Float32Array;
  iouSum = 0;
  recall = 0;
  objSum = 0;
  noobjSum = 0;
  catSum = 0;
  count = 0;

  constructor(readonly cfg: RegionLossConfig, readonly out: ArrayLike<number>, N: number, readonly H: number, readonly W: number) {
    this.A = cfg.num;
    this.C = cfg.classes;
    this.E = 5 + this.C;
    const P = N * H * W * this.A;
    this.boxT = new Float32Array(P * 5);
    this.boxW = new Float32Array(P * 5);
    this.clsW = new Float32Array(P * this.C);
  }

  /** predictor index */
  at(n: number, j: number, i: number, a: number): number {
    return ((n * this.H + j) * this.W + i) * this.A + a;
  }

  raw(p: number, e: number): number {
    return this.out[p * this.E + e];
  }

  predBox(p: number, i: number, j: number, a: number): CBox {
    const { cfg, W, H } = this;
    return {
      x: (i + sigmoid(this.raw(p, 0))) / W,
      y: (j + sigmoid(this.raw(p, 1))) / H,
      w: (Math.exp(this.raw(p, 2)) * cfg.anchors[2 * a]) / W,
      h: (Math.exp(this.raw(p, 3)) * cfg.anchors[2 * a + 1]) / H,
    };
  }

  /** Class weights along the label (and, with a WordTree, its path to the root); its probability. */
  setClass(p: number, cls: number): number {
    const { cfg, C, clsW } = this;
    if (cls < 0 || cls >= C) throw new Error(`class ${cls} outside [0, ${C})`);
    const base = p * this.E + 5;
    if (!cfg.tree) {
      clsW[p * C + cls] = cfg.classScale;
      return softmaxAt(this.out, base, 0, C, cls);
    }
    let prob = 1;
    for (const node of pathToRoot(cfg.tree, cls)) {
      clsW[p * C + node] = cfg.classScale;
      const g = cfg.tree.group[node];
      prob *= softmaxAt(this.out, base, cfg.tree.groupOffset[g], cfg.tree.groupSize[g], node);
    }
    return prob;
  }

  /** YOLO9000 classification image: only the class loss, at one predictor (see clsPick). */
  classificationImage(n: number, label: number): void {
    const byObjectness = this.cfg.clsPick === 'objectness';
    let best = -1;
    let bestP = -1;
    for (let j = 0; j < this.H; j++) for (let i = 0; i < this.W; i++) for (let a = 0; a < this.A; a++) {
      const p = this.at(n, j, i, a);
      const obj = sigmoid(this.raw(p, 4));
      const pr = byObjectness ? obj : obj * classProbability(this.cfg, this.out, p * this.E + 5, label);
      if (pr > bestP) {
        bestP = pr;
        best = p;
      }
    }
    this.catSum += this.setClass(best, label);
    this.count++;
  }

  /** Every predictor of an image towards objectness 0 unless it overlaps a truth; early on, towards its anchor. */
  background(n: number, truths: readonly CBox[], seen: number): void {
    const { cfg, boxT, boxW } = this;
    for (let j = 0; j < this.H; j++) for (let i = 0; i < this.W; i++) for (let a = 0; a < this.A; a++) {
      const p = this.at(n, j, i, a);
      const pred = this.predBox(p, i, j, a);
      let bestIou = 0;
      for (const t of truths) bestIou = Math.max(bestIou, boxIou(pred, t));
      this.noobjSum += sigmoid(this.raw(p, 4));
      boxT[p * 5 + 4] = 0;
      boxW[p * 5 + 4] = bestIou > cfg.thresh ? 0 : cfg.noobjectScale;
      if (seen < cfg.warmupImages) {
        boxT[p * 5] = 0.5;
        boxT[p * 5 + 1] = 0.5;
        for (let e = 0; e < 4; e++) boxW[p * 5 + e] = 0.01;
      }
    }
  }

  /** The predictor responsible for a truth: its cell, and the anchor whose shape fits best (bias_match). */
  responsible(n: number, t: TrainTarget['boxes'][number]): void {
    const { cfg, W, H, A, C, boxT, boxW } = this;
    const i = Math.min(W - 1, Math.max(0, Math.floor(t.x * W)));
    const j = Math.min(H - 1, Math.max(0, Math.floor(t.y * H)));
    let bestA = 0;
    let bestIou = -1;
    for (let a = 0; a < A; a++) {
      const iou = shapeIou(cfg.anchors[2 * a] / W, cfg.anchors[2 * a + 1] / H, t.w, t.h);
      if (iou > bestIou) {
        bestIou = iou;
        bestA = a;
      }
    }
    const p = this.at(n, j, i, bestA);
    const iou = boxIou(this.predBox(p, i, j, bestA), t);
    const scale = cfg.coordScale * (2 - t.w * t.h);
    boxT[p * 5] = t.x * W - i;
    boxT[p * 5 + 1] = t.y * H - j;
    boxT[p * 5 + 2] = Math.log((t.w * W) / cfg.anchors[2 * bestA]);
    boxT[p * 5 + 3] = Math.log((t.h * H) / cfg.anchors[2 * bestA + 1]);
    for (let e = 0; e < 4; e++) boxW[p * 5 + e] = scale;
    boxT[p * 5 + 4] = cfg.rescore ? iou : 1;
    boxW[p * 5 + 4] = cfg.objectScale;
    // a predictor re-used by a later truth starts from clean class weights (darknet overwrites too)
    this.clsW.fill(0, p * C, (p + 1) * C);
    this.catSum += this.setClass(p, t.cls);
    this.objSum += sigmoid(this.raw(p, 4));
    this.iouSum += iou;
    if (iou > 0.5) this.recall++;
    this.count++;
  }

  result(batch: readonly TrainTarget[]): RegionTargets {
    const { count } = this;
    const boxCount = batch.reduce((s, b) => s + (b.boxes.length > 0 ? 1 : 0), 0);
    return {
      boxT: this.boxT, boxW: this.boxW, clsW: this.clsW,
      stats: {
        avgIou: count ? this.iouSum / count : 0,
        recall: count ? this.recall / count : 0,
        avgObj: count ? this.objSum / count : 0,
        avgNoobj: this.noobjSum / Math.max(1, boxCount * this.H * this.W * this.A),
        avgCat: count ? this.catSum / count : 0,
        count,
      },
    };
  }
}

/**
 * @param out raw output, NHWC [N, H, W, num*(5+classes)], channel = anchor*(5+C) + entry
 * @param seen images trained on before this batch (for the anchor warm-up term)
 */
export function regionTargets(cfg: RegionLossConfig, out: ArrayLike<number>, N: number, H: number, W: number,
  batch: readonly TrainTarget[], seen: number): RegionTargets {
  const A = cfg.num;
  const C = cfg.classes;
  if (out.length !== N * H * W * A * (5 + C)) throw new Error(`region loss: output has ${out.length} values, expected ${N}x${H}x${W}x${A * (5 + C)}`);
  if (cfg.anchors.length !== 2 * A) throw new Error(`region loss: ${cfg.anchors.length} anchor values for ${A} anchors`);
  if (cfg.tree && cfg.tree.n !== C) throw new Error(`region loss: tree has ${cfg.tree.n} nodes but there are ${C} classes`);
  const b = new TargetBuilder(cfg, out, N, H, W);
  for (let n = 0; n < N; n++) {
    const sample = batch[n];
    if (sample.label !== undefined && sample.boxes.length === 0) {
      b.classificationImage(n, sample.label);
      continue;
    }
    const truths = sample.boxes.filter((t) => t.w > 0 && t.h > 0);
    b.background(n, truths, seen);
    for (const t of truths) b.responsible(n, t);
  }
  return b.result(batch);
}

/** softmax over out[base+off .. base+off+size) evaluated at index k (absolute class index) */
function softmaxAt(out: ArrayLike<number>, base: number, off: number, size: number, k: number): number {
  let m = -Infinity;
  for (let c = 0; c < size; c++) m = Math.max(m, out[base + off + c]);
  let s = 0;
  for (let c = 0; c < size; c++) s += Math.exp(out[base + off + c] - m);
  return Math.exp(out[base + k] - m) / s;
}

function classProbability(cfg: RegionLossConfig, out: ArrayLike<number>, base: number, cls: number): number {
  if (!cfg.tree) return softmaxAt(out, base, 0, cfg.classes, cls);
  let p = 1;
  for (const node of pathToRoot(cfg.tree, cls)) {
    const g = cfg.tree.group[node];
    p *= softmaxAt(out, base, cfg.tree.groupOffset[g], cfg.tree.groupSize[g], node);
  }
  return p;
}

/** log-softmax over the last axis, per sibling group when a tree is given. */
export function classLogProbs(logits: tf.Tensor, tree?: TreeIndex): tf.Tensor {
  if (!tree) return tf.logSoftmax(logits);
  const last = logits.shape.length - 1;
  const parts: tf.Tensor[] = [];
  for (let g = 0; g < tree.groups; g++) {
    const size = tree.groupSize[g];
    const begin = logits.shape.map((_, d) => (d === last ? tree.groupOffset[g] : 0));
    const shape = logits.shape.map((s, d) => (d === last ? size : s));
    // a group of one is certain: log p = 0, and no gradient reaches its logit
    parts.push(size === 1 ? tf.zeros(shape) : tf.logSoftmax(tf.slice(logits, begin, shape)));
  }
  return parts.length === 1 ? parts[0] : tf.concat(parts, last);
}

/** The loss for one batch given its targets; `out` is the raw NHWC output. Divided by the batch size. */
export function regionLoss(cfg: RegionLossConfig, out: tf.Tensor4D, t: RegionTargets): tf.Scalar {
  return tf.tidy(() => {
    const [N, H, W] = out.shape;
    const A = cfg.num;
    const C = cfg.classes;
    const r = tf.reshape(out, [N, H, W, A, 5 + C]);
    const xy = tf.sigmoid(tf.slice(r, [0, 0, 0, 0, 0], [N, H, W, A, 2]));
    const wh = tf.slice(r, [0, 0, 0, 0, 2], [N, H, W, A, 2]);
    const obj = tf.sigmoid(tf.slice(r, [0, 0, 0, 0, 4], [N, H, W, A, 1]));
    const act = tf.concat([xy, wh, obj], 4);
    const boxT = tf.tensor(t.boxT, [N, H, W, A, 5]);
    const boxW = tf.tensor(t.boxW, [N, H, W, A, 5]);
    const lbox = tf.mul(0.5, tf.sum(tf.mul(boxW, tf.squaredDifference(act, boxT))));
    const logp = classLogProbs(tf.slice(r, [0, 0, 0, 0, 5], [N, H, W, A, C]), cfg.tree);
    const lcls = tf.neg(tf.sum(tf.mul(tf.tensor(t.clsW, [N, H, W, A, C]), logp)));
    return tf.div(tf.add(lbox, lcls), N) as tf.Scalar;
  });
}
