// YOLOv1 detection layer decode (darknet get_detection_detections), batched over N images.
// Raw output per image: class probs [S*S][C], then confidences [S*S][B], then boxes [S*S][B][4].
// The layer has no activation at inference: values are used as the network emits them.

import { softmaxStrided } from './activations.ts';
import { emptyCandidates, pushCandidate, type Candidates } from './candidates.ts';
import type { BoxFrame } from './letterbox.ts';
import { checkBatch } from './checks.ts';

const f = Math.fround;

export interface DetectionLayer {
  side: number;
  num: number;
  classes: number;
  /** boxes predict sqrt(w), sqrt(h) */
  sqrt: boolean;
  /** softmax over the class probs (both shipped darknet cfgs: false) */
  softmax: boolean;
}

export function detectionOutputsPerImage(l: DetectionLayer): number {
  return l.side * l.side * (l.classes + 5 * l.num);
}

/** Where darknet's confidence and box blocks start in one image's output (the class probs start at 0). */
export function detectionBlocks(l: Pick<DetectionLayer, 'side' | 'num' | 'classes'>): { conf: number; boxes: number } {
  const cells = l.side * l.side;
  return { conf: cells * l.classes, boxes: cells * (l.classes + l.num) };
}

/**
 * Candidates per image, boxes relative to each original image (frames[b]). `output` holds N images
 * back to back; dims is the ORT output shape, any shape whose product is N * side*side*(C+5B).
 * An entry is (box, class) with p = conf * class_prob > thresh; order is cell-major (cell*B + n).
 */
export function decodeDetection(
  output: Float32Array, dims: readonly number[], l: DetectionLayer, frames: readonly BoxFrame[], thresh: number,
): Candidates[] {
  const per = detectionOutputsPerImage(l);
  const n = checkBatch(output, dims, per, frames.length, 'yolov1 detection');
  const { side, num, classes } = l;
  const cells = side * side;
  const th = f(thresh);
  const invSide = f(1 / side);
  const blocks = detectionBlocks(l);
  const probs = l.softmax ? new Float32Array(cells * classes) : null;
  const res: Candidates[] = [];
  for (let b = 0; b < n; b++) {
    const base = b * per;
    const out = emptyCandidates(64);
    const fr = frames[b];
    let cp: Float32Array = output;
    let cpBase = base;
    if (probs) {
      for (let i = 0; i < cells; i++) softmaxStrided(output, base + i * classes, classes, 1, probs, i * classes, 1);
      cp = probs;
      cpBase = 0;
    }
    const confBase = base + blocks.conf;
    const boxBase = base + blocks.boxes;
    for (let i = 0; i < cells; i++) {
      const row = Math.trunc(i / side);
      const col = i % side;
      for (let k = 0; k < num; k++) {
        const det = i * num + k;
        const scale = output[confBase + det];
        // darknet drops boxes whose objectness (= conf here) is exactly 0 before NMS.
        if (scale === 0) continue;
        let first = true;
        let cx = 0, cy = 0, w = 0, h = 0;
        for (let j = 0; j < classes; j++) {
          const p = f(scale * cp[cpBase + i * classes + j]);
          if (!(p > th)) continue;
          if (first) {
            // The box is decoded once, only when some class survives (most cells have none).
            first = false;
            const bi = boxBase + det * 4;
            const tx = output[bi], ty = output[bi + 1], tw = output[bi + 2], thh = output[bi + 3];
            // darknet writes (tx + col) / side, but its -Ofast build hoists the loop-invariant
            // division into a float reciprocal multiply; doing the same matches its boxes bit for bit
            // (180/180 coordinates vs 109/180 with a true division, yolov1-tiny oracle run).
            const x = f(f(tx + col) * invSide);
            const y = f(f(ty + row) * invSide);
            const ww = l.sqrt ? f(tw * tw) : tw;
            const hh = l.sqrt ? f(thh * thh) : thh;
            cx = f((x - fr.offX) / fr.scaleX);
            cy = f((y - fr.offY) / fr.scaleY);
            w = f(ww * fr.invScaleX);
            h = f(hh * fr.invScaleY);
          }
          pushCandidate(out, cx, cy, w, h, j, p, det);
        }
      }
    }
    res.push(out);
  }
  return res;
}
