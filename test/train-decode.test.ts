// What the losses teach is what the server decodes: outputs built from the training targets, run through
// src/vision's postprocess (the serving decoder), give back the ground-truth boxes and classes.
import { describe, expect, it } from 'vitest';
import { postprocess } from '../src/vision/postprocess.ts';
import { regionTargets, REGION_DEFAULTS, type RegionLossConfig } from '../src/train/yolo/region-loss.ts';
import { v1Targets, v1OutputSize, V1_DEFAULTS, type V1LossConfig } from '../src/train/yolo/v1-loss.ts';
import { indexTree } from '../src/train/wordtree/tree.ts';
import type { TruthBox } from '../src/train/yolo/types.ts';

const logit = (p: number) => Math.log(p / (1 - p));
const truths: TruthBox[] = [
  { x: 0.3, y: 0.25, w: 0.2, h: 0.3, cls: 1 },
  { x: 0.71, y: 0.62, w: 0.45, h: 0.35, cls: 2 },
  { x: 0.12, y: 0.85, w: 0.08, h: 0.1, cls: 0 },
];
const SIZE = 112;

function expectBoxes(dets: { class_id: number; box: { x1: number; y1: number; x2: number; y2: number } }[], want: TruthBox[], cls: (t: TruthBox) => number) {
  expect(dets).toHaveLength(want.length);
  for (const t of want) {
    const d = dets.find((e) => e.class_id === cls(t));
    expect(d, `class ${cls(t)}`).toBeDefined();
    expect(d!.box.x1).toBeCloseTo((t.x - t.w / 2) * SIZE, 2);
    expect(d!.box.x2).toBeCloseTo((t.x + t.w / 2) * SIZE, 2);
    expect(d!.box.y1).toBeCloseTo((t.y - t.h / 2) * SIZE, 2);
    expect(d!.box.y2).toBeCloseTo((t.y + t.h / 2) * SIZE, 2);
  }
}

/** raw NHWC region output that says exactly the targets, as NCHW for the decoder */
function regionOutput(cfg: RegionLossConfig, H: number, W: number, boxes: TruthBox[]): Float32Array {
  const A = cfg.num;
  const C = cfg.classes;
  const E = 5 + C;
  const t = regionTargets(cfg, new Float32Array(H * W * A * E), 1, H, W, [{ boxes }], 1e9);
  const nchw = new Float32Array(A * E * H * W);
  for (let j = 0; j < H; j++) for (let i = 0; i < W; i++) for (let a = 0; a < A; a++) {
    const p = (j * W + i) * A + a;
    const responsible = t.boxW[p * 5 + 4] === cfg.objectScale;
    const v = new Array<number>(E).fill(0);
    if (responsible) {
      v[0] = logit(t.boxT[p * 5]);
      v[1] = logit(t.boxT[p * 5 + 1]);
      v[2] = t.boxT[p * 5 + 2];
      v[3] = t.boxT[p * 5 + 3];
      v[4] = 9;
      for (let c = 0; c < C; c++) v[5 + c] = t.clsW[p * C + c] > 0 ? 9 : 0; // the label and its ancestors
    } else {
      v[4] = -9;
    }
    for (let e = 0; e < E; e++) nchw[((a * E + e) * H + j) * W + i] = v[e];
  }
  return nchw;
}

describe('training targets decode to the ground truth with the serving decoder', () => {
  it('YOLOv2 region layer', () => {
    const cfg: RegionLossConfig = { num: 3, classes: 4, anchors: [0.8, 1.0, 2, 2.5, 4, 3], ...REGION_DEFAULTS };
    const H = SIZE / 16;
    const out = regionOutput(cfg, H, H, truths);
    const model = { input: { width: SIZE, height: SIZE }, preprocess: 'letterbox' as const, names: ['a', 'b', 'c', 'd'], anchors: cfg.anchors, num: 3, coords: 4, softmax: true };
    const [dets] = postprocess('yolov2', model, out, [1, 3 * 9, H, H], [{ width: SIZE, height: SIZE }], { thresh: 0.5 });
    expectBoxes(dets, truths, (t) => t.cls);
  });

  it('YOLO9000 tree: the labelled node comes back, with its path', () => {
    // 0 root -> {1, 2}; 1 -> {3, 4}; 2 -> {5}
    const parents = [-1, 0, 0, 1, 1, 2];
    const tree = indexTree(parents);
    const names = ['root', 'left', 'right', 'l1', 'l2', 'r1'];
    const cfg: RegionLossConfig = { num: 3, classes: 6, anchors: [0.8, 1.0, 2, 2.5, 4, 3], ...REGION_DEFAULTS, tree };
    const labelled = truths.map((t, k) => ({ ...t, cls: [3, 4, 5][k] }));
    const H = SIZE / 16;
    const out = regionOutput(cfg, H, H, labelled);
    const model = { input: { width: SIZE, height: SIZE }, preprocess: 'letterbox' as const, names, anchors: cfg.anchors, num: 3, coords: 4, softmax: true, tree: { parents } };
    const [dets] = postprocess('yolo9000', model, out, [1, 3 * 11, H, H], [{ width: SIZE, height: SIZE }], { thresh: 0.5 });
    expectBoxes(dets, labelled, (t) => t.cls);
    expect(dets.find((d) => d.class === 'l2')!.path).toEqual(['root', 'left', 'l2']);
  });

  it('YOLOv1 detection layer', () => {
    const cfg: V1LossConfig = { side: 7, num: 2, classes: 3, ...V1_DEFAULTS };
    const v1truths = [
      { x: 0.3, y: 0.25, w: 0.2, h: 0.3, cls: 1 },
      { x: 0.71, y: 0.62, w: 0.45, h: 0.35, cls: 2 },
      { x: 0.12, y: 0.85, w: 0.08, h: 0.1, cls: 0 },
    ];
    const D = v1OutputSize(cfg);
    const t = v1Targets(cfg, new Float32Array(D), [{ boxes: v1truths }]);
    const S2 = 49;
    const out = new Float32Array(D);
    for (let i = 0; i < D; i++) if (t.weight[i] > 0 && (i < S2 * 3 || i >= S2 * 5)) out[i] = t.target[i];
    // the responsible predictor's confidence 1, all others 0
    for (let k = 0; k < S2 * 2; k++) out[S2 * 3 + k] = t.weight[S2 * 3 + k] === 1 ? 1 : 0;
    const model = { input: { width: SIZE, height: SIZE }, preprocess: 'resize' as const, names: ['a', 'b', 'c'], side: 7, num: 2, sqrt: true, softmax: false };
    const [dets] = postprocess('yolov1', model, out, [1, D], [{ width: SIZE, height: SIZE }], { thresh: 0.5 });
    expectBoxes(dets, v1truths, (b) => b.cls);
  });
});
