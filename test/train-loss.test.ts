import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../src/train/backend.ts';
import { V1_DEFAULTS, denseSquaredLoss, v1OutputSize, v1Targets, type V1LossConfig } from '../src/train/yolo/v1-loss.ts';
import { REGION_DEFAULTS, classLogProbs, regionLoss, regionTargets, type RegionLossConfig } from '../src/train/yolo/region-loss.ts';
import { indexTree } from '../src/train/wordtree/tree.ts';

beforeAll(async () => {
  await initBackend('cpu'); // tiny reference computations only
});

describe('YOLOv1 loss', () => {
  const cfg: V1LossConfig = { side: 2, num: 2, classes: 2, ...V1_DEFAULTS };
  // layout: probs [4][2] at 0..7, conf [4][2] at 8..15, boxes [4][2][4] at 16..47
  function output(box0: number[], box1: number[]): Float32Array {
    const o = new Float32Array(v1OutputSize(cfg));
    o.fill(0.3, 0, 8);
    o[1] = 0.4; // cell 0, class 1
    o.fill(0.2, 8, 16);
    o.set(box0, 16);
    o.set(box1, 20);
    return o;
  }
  const truth = { x: 0.3, y: 0.3, w: 0.4, h: 0.2, cls: 1 };

  it('makes the predictor with the highest IoU responsible and matches the hand-computed loss', () => {
    // box 0 centred on the truth (IoU .072/.098), box 1 far away (IoU 0)
    const out = output([0.6, 0.6, 0.6, 0.5], [0.1, 0.1, 0.3, 0.3]);
    const t = v1Targets(cfg, out, [{ boxes: [truth] }]);
    const iou = 0.072 / 0.098;
    expect(t.target[8]).toBeCloseTo(iou, 5); // rescore: conf target = IoU
    expect(t.weight[8]).toBe(1);
    expect(t.weight[9]).toBe(0.5); // the other predictor of the cell is "noobj"
    expect(Array.from(t.weight.subarray(20, 24))).toEqual([0, 0, 0, 0]);
    const want =
      0.3 ** 2 + (0.4 - 1) ** 2 + // class scores of the object's cell
      (0.2 - iou) ** 2 + 7 * 0.5 * 0.2 ** 2 + // responsible conf + 7 noobj confs
      5 * ((0.6 - 0.6) ** 2 + (0.6 - 0.6) ** 2 + (0.6 - Math.sqrt(0.4)) ** 2 + (0.5 - Math.sqrt(0.2)) ** 2); // sqrt w, h
    const loss = denseSquaredLoss(tf.tensor(out, [1, out.length]), t);
    expect(loss.dataSync()[0]).toBeCloseTo(want, 5);
  });

  it('switches responsibility when the other predictor overlaps more', () => {
    const out = output([0.1, 0.1, 0.3, 0.3], [0.6, 0.6, 0.6, 0.5]);
    const t = v1Targets(cfg, out, [{ boxes: [truth] }]);
    expect(t.weight[8]).toBe(0.5);
    expect(t.weight[9]).toBe(1);
    expect(Array.from(t.target.subarray(20, 24))).toEqual(
      [0.6, 0.6, Math.sqrt(0.4), Math.sqrt(0.2)].map(Math.fround));
    expect(Array.from(t.weight.subarray(16, 20))).toEqual([0, 0, 0, 0]);
  });

  it('falls back to the smallest RMSE when no predictor overlaps the truth', () => {
    // both boxes miss; box 1 is closer
    const out = output([0.0, 0.0, 0.1, 0.1], [0.2, 0.2, 0.2, 0.2]);
    const t = v1Targets(cfg, out, [{ boxes: [truth] }]);
    expect(t.target[9]).toBe(0); // IoU 0
    expect(t.weight[9]).toBe(1);
    expect(t.weight[8]).toBe(0.5);
  });

  it('uses sqrt(w), sqrt(h): the same width error costs more on a small box than on a big one', () => {
    const c: V1LossConfig = { ...cfg, rescore: false }; // keep the confidence target fixed
    const coordCost = (b: { x: number; y: number; w: number; h: number; cls: number }, dw: number) => {
      const out = output([0.5, 0.5, Math.sqrt(b.w + dw), Math.sqrt(b.h)], [0.5, 0.5, Math.sqrt(b.w + dw), Math.sqrt(b.h)]);
      return denseSquaredLoss(tf.tensor(out, [1, out.length]), v1Targets(c, out, [{ boxes: [b] }])).dataSync()[0];
    };
    const small = { x: 0.25, y: 0.25, w: 0.04, h: 0.04, cls: 0 };
    const big = { x: 0.25, y: 0.25, w: 0.64, h: 0.64, cls: 0 };
    const dSmall = coordCost(small, 0.05) - coordCost(small, 0);
    const dBig = coordCost(big, 0.05) - coordCost(big, 0);
    expect(dSmall).toBeCloseTo(5 * (0.3 - 0.2) ** 2, 5);
    expect(dBig).toBeCloseTo(5 * (Math.sqrt(0.69) - 0.8) ** 2, 5);
  });

  it('has gradient 2 W (out - T) / N', () => {
    const out = output([0.6, 0.6, 0.6, 0.5], [0.1, 0.1, 0.3, 0.3]);
    const t = v1Targets(cfg, out, [{ boxes: [truth] }]);
    const g = tf.grad((x: tf.Tensor) => denseSquaredLoss(x, t))(tf.tensor(out, [1, out.length])).dataSync();
    for (let i = 0; i < out.length; i++) expect(g[i]).toBeCloseTo(2 * t.weight[i] * (out[i] - t.target[i]), 5);
  });
});

describe('YOLOv2 region loss', () => {
  const cfg: RegionLossConfig = { num: 2, classes: 2, anchors: [1, 1, 2, 2], ...REGION_DEFAULTS };

  it('matches the hand-computed loss: responsible anchor, rescored objectness, noobj, softmax class', () => {
    // all raw outputs 0: every sigmoid is .5, every box is its anchor centred in its cell
    const out = new Float32Array(1 * 2 * 2 * 2 * 7);
    const t = regionTargets(cfg, out, 1, 2, 2, [{ boxes: [{ x: 0.3, y: 0.3, w: 0.5, h: 0.5, cls: 0 }] }], 1e9);
    // anchor 0 (1x1 cells = .5x.5 of the image) fits the truth exactly: it is responsible in cell (0, 0)
    const iou = 0.2025 / 0.2975; // pred [0,.5]^2 vs truth [.05,.55]^2
    expect(t.boxT[4]).toBeCloseTo(iou, 5);
    expect(t.boxW[4]).toBe(5);
    expect(Array.from(t.boxT.subarray(0, 4)).map((v) => +v.toFixed(5))).toEqual([0.6, 0.6, 0, 0]);
    const want =
      0.5 * 1.75 * 2 * (0.5 - 0.6) ** 2 + // coord scale (2 - w h)
      0.5 * 5 * (0.5 - iou) ** 2 + // objectness towards IoU
      Math.log(2) + // softmax cross-entropy of two equal logits
      7 * 0.5 * 1 * 0.5 ** 2; // the 7 other predictors towards 0
    const loss = regionLoss(cfg, tf.tensor4d(out, [1, 2, 2, 14]), t).dataSync()[0];
    expect(loss).toBeCloseTo(want, 5);
  });

  it('does not push predictions that already overlap a truth by more than .6 towards objectness 0', () => {
    const out = new Float32Array(1 * 2 * 2 * 2 * 7);
    // cell (1, 1), anchor 1 predicts a box that overlaps the truth well but is not responsible
    const p = ((1 * 2 + 1) * 2 + 1) * 7;
    out[p + 0] = -2; out[p + 1] = -2; // x, y near the cell's top-left corner: centre ~ (.56, .56)
    const pi = (1 * 2 + 1) * 2 + 1;
    // truth centred in cell (0, 0): anchor 1 there is responsible; the (1, 1) prediction [.06, 1.06]^2
    // overlaps the truth [0, .9]^2 by IoU .7056 / 1.1044 = .64 > .6
    const t3 = regionTargets(cfg, out, 1, 2, 2, [{ boxes: [{ x: 0.45, y: 0.45, w: 0.9, h: 0.9, cls: 1 }] }], 1e9);
    expect(t3.boxW[pi * 5 + 4]).toBe(0); // overlaps > .6, not responsible: no objectness loss at all
    const q = ((0 * 2 + 0) * 2 + 1);
    expect(t3.boxW[q * 5 + 4]).toBe(5); // the responsible one is in cell (0, 0)
  });

  it('pulls every predictor towards its anchor during the first images', () => {
    const out = new Float32Array(1 * 2 * 2 * 2 * 7);
    const t = regionTargets(cfg, out, 1, 2, 2, [{ boxes: [] }], 0);
    for (let p = 0; p < 8; p++) {
      expect(Array.from(t.boxW.subarray(p * 5, p * 5 + 4))).toEqual([0.01, 0.01, 0.01, 0.01].map(Math.fround));
      expect(Array.from(t.boxT.subarray(p * 5, p * 5 + 4))).toEqual([0.5, 0.5, 0, 0]);
    }
  });

  it('gives darknet gradients: scale (sigmoid(x) - t) sigmoid\'(x) on x and (p - onehot) on class logits', () => {
    const out = new Float32Array(1 * 1 * 1 * 1 * 7);
    out.set([0.3, -0.2, 0.1, 0.2, 0.5, 1.0, -1.0]);
    const c1: RegionLossConfig = { ...cfg, num: 1, anchors: [1, 1] };
    const t = regionTargets(c1, out, 1, 1, 1, [{ boxes: [{ x: 0.7, y: 0.4, w: 0.6, h: 0.8, cls: 1 }] }], 1e9);
    const g = tf.grad((x: tf.Tensor) => regionLoss(c1, x as tf.Tensor4D, t))(tf.tensor4d(out, [1, 1, 1, 7])).dataSync();
    const s = (v: number) => 1 / (1 + Math.exp(-v));
    const scale = 2 - 0.6 * 0.8;
    expect(g[0]).toBeCloseTo(scale * (s(0.3) - 0.7) * s(0.3) * (1 - s(0.3)), 5);
    expect(g[2]).toBeCloseTo(scale * (0.1 - Math.log(0.6)), 5);
    const p1 = Math.exp(-1) / (Math.exp(1) + Math.exp(-1));
    expect(g[5]).toBeCloseTo(1 - p1, 5);
    expect(g[6]).toBeCloseTo(p1 - 1, 5);
  });
});

describe('YOLO9000 tree loss', () => {
  // root 0 -> {1, 2}; 1 -> {3, 4}
  const tree = indexTree([-1, 0, 0, 1, 1]);
  const cfg: RegionLossConfig = { num: 1, classes: 5, anchors: [1, 1], ...REGION_DEFAULTS, tree };

  it('softmaxes each sibling group separately', () => {
    const logits = tf.tensor2d([[7, 1, 2, 0.5, -0.5]]);
    const lp = classLogProbs(logits, tree).dataSync();
    expect(lp[0]).toBeCloseTo(0, 6);
    expect(Math.exp(lp[1]) + Math.exp(lp[2])).toBeCloseTo(1, 6);
    expect(Math.exp(lp[3]) + Math.exp(lp[4])).toBeCloseTo(1, 6);
    expect(lp[3]).toBeCloseTo(0.5 - Math.log(Math.exp(0.5) + Math.exp(-0.5)), 6);
  });

  it('sums the cross-entropy over the groups on the path from the label to the root', () => {
    const out = new Float32Array([0, 0, 0, 0, 0, /* classes */ 7, 1, 2, 0.5, -0.5]);
    const t = regionTargets(cfg, out, 1, 1, 1, [{ boxes: [{ x: 0.5, y: 0.5, w: 1, h: 1, cls: 3 }] }], 1e9);
    expect(Array.from(t.clsW)).toEqual([1, 1, 0, 1, 0]);
    const lse = (a: number, b: number) => Math.log(Math.exp(a) + Math.exp(b));
    const cls = -(1 - lse(1, 2)) - (0.5 - lse(0.5, -0.5));
    const loss = regionLoss(cfg, tf.tensor4d(out, [1, 1, 1, 10]), t).dataSync()[0];
    // pred box = truth (centre .5, size 1x1): coords exact except sigmoid(0)=.5 vs target .5 -> 0; objectness .5 -> IoU 1
    const want = 0.5 * 5 * (0.5 - 1) ** 2 + cls;
    expect(loss).toBeCloseTo(want, 5);
  });

  it('trains a classification image only through the class loss at its most probable box', () => {
    // 1x2 grid: predictor 0 is confident in node 4, predictor 1 in node 3; label 3
    const out = new Float32Array([
      0, 0, 0, 0, 3, /* */ 0, 0, 0, -2, 2,
      0, 0, 0, 0, 1, /* */ 0, 0, 0, 2, -2,
    ]);
    const t = regionTargets(cfg, out, 1, 1, 2, [{ boxes: [], label: 3 }], 0);
    expect(Array.from(t.boxW).every((v) => v === 0)).toBe(true); // no box, objectness or warm-up terms
    expect(Array.from(t.clsW.subarray(0, 5))).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(t.clsW.subarray(5, 10))).toEqual([1, 1, 0, 1, 0]);
    // flip the objectness so predictor 0 wins on obj x P(3) despite its class scores
    out[4] = 9; out[14] = -9;
    const t2 = regionTargets(cfg, out, 1, 1, 2, [{ boxes: [], label: 3 }], 0);
    expect(Array.from(t2.clsW.subarray(0, 5))).toEqual([1, 1, 0, 1, 0]);
  });

  it('with clsPick objectness, trains the label at the box the detector reports, whatever its class scores', () => {
    // predictor 0: objectness sigmoid(3) = .95, P(3) small; predictor 1: sigmoid(2) = .88, P(3) large
    const out = new Float32Array([
      0, 0, 0, 0, 3, /* */ 0, 0, 0, -3, 3,
      0, 0, 0, 0, 2, /* */ 0, 0, 0, 3, -3,
    ]);
    const at = (t: ReturnType<typeof regionTargets>) => [t.clsW.subarray(0, 5).some((v) => v > 0), t.clsW.subarray(5, 10).some((v) => v > 0)];
    expect(at(regionTargets(cfg, out, 1, 1, 2, [{ boxes: [], label: 3 }], 0))).toEqual([false, true]); // default: the paper's rule
    expect(at(regionTargets({ ...cfg, clsPick: 'probability' }, out, 1, 1, 2, [{ boxes: [], label: 3 }], 0))).toEqual([false, true]);
    const t = regionTargets({ ...cfg, clsPick: 'objectness' }, out, 1, 1, 2, [{ boxes: [], label: 3 }], 0);
    expect(at(t)).toEqual([true, false]);
    expect(Array.from(t.clsW.subarray(0, 5))).toEqual([1, 1, 0, 1, 0]);
    expect(Array.from(t.boxW).every((v) => v === 0)).toBe(true);
  });
});
