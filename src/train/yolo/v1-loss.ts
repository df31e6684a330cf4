// YOLOv1 loss (Redmon et al. 2016, eq. 3), laid over darknet's detection-layer output:
// per image, class scores [S*S][C], then confidences [S*S][B], then boxes [S*S][B][4] with x, y relative
// to the cell and sqrt(w), sqrt(h) relative to the image. No activation anywhere: the loss is plain
// sum-squared error, so it is written as sum(W * (out - T)^2) with the targets T and weights W decided
// here from the current predictions (which predictor is "responsible" depends on them).
import { tf } from '../backend.ts';
import { boxIou, boxRmse, type CBox } from './box.ts';
import { detectionBlocks } from '../../vision/yolov1.ts';
import type { LossStats, TrainTarget, TruthBox } from './types.ts';

export interface V1LossConfig {
  side: number;
  num: number;
  classes: number;
  lambdaCoord: number;
  lambdaNoobj: number;
  sqrt: boolean;
  /** confidence target = IoU of the responsible prediction with the truth (the paper); else 1 */
  rescore: boolean;
}

export const V1_DEFAULTS = { lambdaCoord: 5, lambdaNoobj: 0.5, sqrt: true, rescore: true } as const;

export function v1OutputSize(c: Pick<V1LossConfig, 'side' | 'num' | 'classes'>): number {
  return c.side * c.side * (c.classes + 5 * c.num);
}

export interface DenseTargets {
  target: Float32Array;
  weight: Float32Array;
  stats: LossStats;
}

/**
 * One truth per cell: when several box centres fall in one cell the largest box is kept (YOLOv1 can
 * predict only one class per cell; darknet keeps whichever its loader wrote first).
 */
export function cellTruths(boxes: readonly TruthBox[], side: number): Map<number, TruthBox> {
  const m = new Map<number, TruthBox>();
  for (const b of boxes) {
    if (!(b.w > 0 && b.h > 0)) continue;
    const col = Math.min(side - 1, Math.max(0, Math.floor(b.x * side)));
    const row = Math.min(side - 1, Math.max(0, Math.floor(b.y * side)));
    const cell = row * side + col;
    const prev = m.get(cell);
    if (!prev || b.w * b.h > prev.w * prev.h) m.set(cell, b);
  }
  return m;
}

export function v1Targets(cfg: V1LossConfig, out: ArrayLike<number>, batch: readonly TrainTarget[]): DenseTargets {
  const { side, num: B, classes: C } = cfg;
  const S2 = side * side;
  const D = v1OutputSize(cfg);
  const N = batch.length;
  if (out.length !== N * D) throw new Error(`yolov1 loss: output has ${out.length} values, expected ${N} x ${D}`);
  const target = new Float32Array(N * D);
  const weight = new Float32Array(N * D);
  const { conf: confBase, boxes: boxBase } = detectionBlocks(cfg);
  let iouSum = 0, recall = 0, objSum = 0, noobjSum = 0, catSum = 0, count = 0;
  for (let n = 0; n < N; n++) {
    const o = n * D;
    for (let k = 0; k < S2 * B; k++) {
      weight[o + confBase + k] = cfg.lambdaNoobj;
      noobjSum += out[o + confBase + k];
    }
    for (const [cell, t] of cellTruths(batch[n].boxes, side)) {
      const col = cell % side;
      const row = Math.floor(cell / side);
      for (let c = 0; c < C; c++) {
        target[o + cell * C + c] = c === t.cls ? 1 : 0;
        weight[o + cell * C + c] = 1;
      }
      catSum += out[o + cell * C + t.cls];
      const truth: CBox = { x: t.x, y: t.y, w: t.w, h: t.h };
      let best = 0;
      let bestIou = 0;
      let bestRmse = Infinity;
      const ious: number[] = [];
      for (let j = 0; j < B; j++) {
        const bi = o + boxBase + (cell * B + j) * 4;
        const pw = cfg.sqrt ? out[bi + 2] * out[bi + 2] : out[bi + 2];
        const ph = cfg.sqrt ? out[bi + 3] * out[bi + 3] : out[bi + 3];
        const pred: CBox = { x: (out[bi] + col) / side, y: (out[bi + 1] + row) / side, w: pw, h: ph };
        const iou = boxIou(pred, truth);
        ious.push(iou);
        // darknet: highest IoU; while no predictor overlaps the truth at all, the one closest in RMSE
        if (bestIou > 0 || iou > 0) {
          if (iou > bestIou) {
            bestIou = iou;
            best = j;
          }
        } else {
          const r = boxRmse(pred, truth);
          if (r < bestRmse) {
            bestRmse = r;
            best = j;
          }
        }
      }
      const ci = o + confBase + cell * B + best;
      target[ci] = cfg.rescore ? ious[best] : 1;
      weight[ci] = 1;
      objSum += out[ci];
      const bi = o + boxBase + (cell * B + best) * 4;
      const tv = [t.x * side - col, t.y * side - row, cfg.sqrt ? Math.sqrt(t.w) : t.w, cfg.sqrt ? Math.sqrt(t.h) : t.h];
      for (let k = 0; k < 4; k++) {
        target[bi + k] = tv[k];
        weight[bi + k] = cfg.lambdaCoord;
      }
      iouSum += ious[best];
      if (ious[best] > 0.5) recall++;
      count++;
    }
  }
  return {
    target,
    weight,
    stats: {
      avgIou: count ? iouSum / count : 0,
      recall: count ? recall / count : 0,
      avgObj: count ? objSum / count : 0,
      avgNoobj: noobjSum / Math.max(1, N * S2 * B),
      avgCat: count ? catSum / count : 0,
      count,
    },
  };
}

/** sum(W * (out - T)^2) / batch: the paper's loss once T and W are set. */
export function denseSquaredLoss(out: tf.Tensor, t: DenseTargets): tf.Scalar {
  return tf.tidy(() => {
    const T = tf.tensor(t.target, out.shape);
    const W = tf.tensor(t.weight, out.shape);
    return tf.div(tf.sum(tf.mul(W, tf.squaredDifference(out, T))), out.shape[0]) as tf.Scalar;
  });
}
