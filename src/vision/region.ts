// YOLOv2 / YOLO9000 region layer decode from the RAW logits the ONNX model emits, batched:
// output [N, num*(coords+1+classes), H, W], per image laid out [anchor][entry][h][w] with entries
// tx, ty, tw, th, to, classes... darknet activates the whole tensor and then reads it; here each
// (anchor, cell) is activated only as far as needed: objectness first, and the class part only
// when objectness > thresh, since darknet zeroes every other box before NMS anyway.

import { logistic, softmaxStrided } from './activations.ts';
import { emptyCandidates, pushCandidate, type Candidates } from './candidates.ts';
import type { BoxFrame } from './letterbox.ts';
import { checkBatch } from './checks.ts';
import { hierarchyPredictions, topPredictionLazy, treeSoftmax, type WordTree } from './wordtree.ts';

const f = Math.fround;

export interface RegionLayer {
  num: number;
  /** (w, h) per anchor in grid-cell units, length 2*num */
  anchors: readonly number[];
  classes: number;
  /** class softmax (false: independent logistic per class) */
  softmax: boolean;
  /** darknet `background=1`: no objectness logit, obj = 1 and the softmax covers classes+1 slots */
  background?: boolean;
  coords?: number;
  /** false: no class entries in the output; the one class is scored by the objectness alone */
  classScores?: boolean;
}

interface Shape {
  n: number;
  h: number;
  w: number;
  entries: number;
  per: number;
}

function regionShape(output: Float32Array, dims: readonly number[], l: RegionLayer, images: number, what: string): Shape {
  const coords = l.coords ?? 4;
  if (coords !== 4) throw new Error(`${what}: only coords=4 is supported, got ${coords}`);
  if (l.anchors.length !== 2 * l.num) throw new Error(`${what}: ${l.anchors.length} anchor values for num=${l.num}`);
  if (dims.length !== 4) throw new Error(`${what}: expected output dims [N, C, H, W], got [${dims.join(', ')}]`);
  if (l.classScores === false && l.classes !== 1) throw new Error(`${what}: an output without class scores needs exactly one class, got ${l.classes}`);
  const entries = coords + 1 + (l.classScores === false ? 0 : l.classes);
  const [, c, h, w] = dims;
  if (c !== l.num * entries) {
    const per = l.classScores === false ? '5' : '(5+classes)';
    throw new Error(`${what}: output has ${c} channels, expected num*${per} = ${l.num}*${entries} = ${l.num * entries}`);
  }
  const per = c * h * w;
  const n = checkBatch(output, dims, per, images, what);
  return { n, h, w, entries, per };
}

/**
 * YOLOv2 candidates per image: boxes relative to the original image (frames[b] undoes the
 * letterbox like correct_region_boxes), one entry per class with p = obj * class_prob > thresh.
 */
export function decodeRegion(
  output: Float32Array, dims: readonly number[], l: RegionLayer, frames: readonly BoxFrame[], thresh: number,
): Candidates[] {
  const { n: batch, h: H, w: W, entries: E, per } = regionShape(output, dims, l, frames.length, 'yolov2 region');
  const th = f(thresh);
  const HW = H * W;
  const C = l.classes;
  const bg = l.background ? 1 : 0;
  const probs = new Float32Array(C + 1);
  const anchors = Float32Array.from(l.anchors);
  const res: Candidates[] = [];
  for (let b = 0; b < batch; b++) {
    const base = b * per;
    const fr = frames[b];
    const out = emptyCandidates(64);
    for (let a = 0; a < l.num; a++) {
      const ab = base + a * E * HW;
      for (let i = 0; i < HW; i++) {
        const scale = bg ? 1 : logistic(output[ab + 4 * HW + i]);
        if (!(scale > th)) continue;
        // Class probabilities of this one (anchor, cell).
        if (l.classScores === false) probs[bg] = 1;
        else if (l.softmax) softmaxStrided(output, ab + (5 - bg) * HW + i, C + bg, HW, probs, 0, 1);
        else for (let j = 0; j < C; j++) probs[j + bg] = logistic(output[ab + (5 + j) * HW + i]);
        let first = true;
        let cx = 0, cy = 0, bw = 0, bh = 0;
        for (let j = 0; j < C; j++) {
          const p = f(scale * probs[j + bg]);
          if (!(p > th)) continue;
          if (first) {
            first = false;
            const row = Math.trunc(i / W), col = i - row * W;
            const x = f(f(col + logistic(output[ab + i])) / W);
            const y = f(f(row + logistic(output[ab + HW + i])) / H);
            const w = f((Math.exp(output[ab + 2 * HW + i]) * anchors[2 * a]) / W);
            const h = f((Math.exp(output[ab + 3 * HW + i]) * anchors[2 * a + 1]) / H);
            cx = f((x - fr.offX) / fr.scaleX);
            cy = f((y - fr.offY) / fr.scaleY);
            bw = f(w * fr.invScaleX);
            bh = f(h * fr.invScaleY);
          }
          pushCandidate(out, cx, cy, bw, bh, j, p, a * HW + i);
        }
      }
    }
    res.push(out);
  }
  return res;
}

/**
 * How a YOLO9000 box is scored, as darknet does it in its two code paths:
 * - top (`detector test`): the single node hierarchy_top_prediction picks (tree softmax, path products,
 *   hier threshold), reported with the objectness alone as its probability;
 * - classes (`detector valid` with a class map, how the YOLO9000 paper measured detection mAP): every
 *   listed node scored objectness * its path probability, kept when above thresh.
 */
export type TreeScoring = { mode: 'top'; hier: number } | { mode: 'classes'; nodes: readonly number[] };

/** YOLO9000 candidates per image, boxes as decodeRegion's, classes by `scoring`. */
export function decodeRegionTree(
  output: Float32Array, dims: readonly number[], l: Omit<RegionLayer, 'classes' | 'softmax'>, tree: WordTree,
  frames: readonly BoxFrame[], thresh: number, scoring: TreeScoring,
): Candidates[] {
  const layer: RegionLayer = { ...l, classes: tree.n, softmax: true };
  const { n: batch, h: H, w: W, entries: E, per } = regionShape(output, dims, layer, frames.length, 'yolo9000 region');
  const th = f(thresh);
  const hier32 = scoring.mode === 'top' ? f(scoring.hier) : 0;
  const HW = H * W;
  const bg = l.background ? 1 : 0;
  const scratch = new Float32Array(tree.maxGroupSize);
  const probs = scoring.mode === 'classes' ? new Float32Array(tree.n) : undefined;
  const anchors = Float32Array.from(l.anchors);
  const res: Candidates[] = [];
  for (let b = 0; b < batch; b++) {
    const base = b * per;
    const fr = frames[b];
    const out = emptyCandidates(64);
    for (let a = 0; a < l.num; a++) {
      const ab = base + a * E * HW;
      for (let i = 0; i < HW; i++) {
        const scale = bg ? 1 : logistic(output[ab + 4 * HW + i]);
        if (!(scale > th)) continue;
        const row = Math.trunc(i / W), col = i - row * W;
        const x = f(f(col + logistic(output[ab + i])) / W);
        const y = f(f(row + logistic(output[ab + HW + i])) / H);
        const w = f((Math.exp(output[ab + 2 * HW + i]) * anchors[2 * a]) / W);
        const h = f((Math.exp(output[ab + 3 * HW + i]) * anchors[2 * a + 1]) / H);
        const cx = f((x - fr.offX) / fr.scaleX), cy = f((y - fr.offY) / fr.scaleY);
        const bw = f(w * fr.invScaleX), bh = f(h * fr.invScaleY);
        const cls = ab + (5 - bg) * HW + i;
        if (scoring.mode === 'top') {
          pushCandidate(out, cx, cy, bw, bh, topPredictionLazy(output, cls, HW, tree, hier32, scratch), scale, a * HW + i);
          continue;
        }
        treeSoftmax(output, cls, HW, tree, probs!, scratch);
        hierarchyPredictions(probs!, tree);
        for (const j of scoring.nodes) {
          const p = f(scale * probs![j]);
          if (p > th) pushCandidate(out, cx, cy, bw, bh, j, p, a * HW + i);
        }
      }
    }
    res.push(out);
  }
  return res;
}
