// Batch output -> detections per image, through src/vision's postprocess. Requests batched together
// may carry different parameters (thresh, nms, ...): consecutive images with equal parameters share
// one call, which keeps the common case (all defaults) a single batched decode + NMS.
import type { DetectorKind, Manifest } from '../manifest.ts';
import { postprocess, type DetectorModelLike } from '../vision/postprocess.ts';
import type { ImageSize } from '../vision/letterbox.ts';
import type { Detection, DetectParams } from './types.ts';

export const DETECTOR_KINDS: readonly DetectorKind[] = ['yolov1', 'yolov2', 'yolo9000'];

export function isDetector(m: Manifest): m is Manifest & { kind: DetectorKind } {
  return (DETECTOR_KINDS as readonly string[]).includes(m.kind);
}

function key(p: DetectParams): string {
  return JSON.stringify([p.thresh, p.nms, p.hier, p.maxDet, p.classes, p.agnostic, p.treeScores]);
}

export function postprocessBatch(m: Manifest, output: Float32Array, dims: readonly number[],
  sizes: readonly ImageSize[], params: readonly DetectParams[]): Detection[][] {
  if (!isDetector(m)) throw new Error(`model kind ${m.kind} has no detection output`);
  const model = m as unknown as DetectorModelLike;
  const n = sizes.length;
  if (dims[0] !== n) throw new Error(`output batch ${dims[0]} does not match ${n} images`);
  const per = n === 0 ? 0 : output.length / n;
  const res: Detection[][] = [];
  for (let start = 0; start < n;) {
    let end = start + 1;
    const k = key(params[start]);
    while (end < n && key(params[end]) === k) end++;
    const whole = start === 0 && end === n;
    const out = whole ? output : output.subarray(start * per, end * per);
    const d = whole ? dims : [end - start, ...dims.slice(1)];
    res.push(...postprocess(m.kind, model, out, d, sizes.slice(start, end), params[start]));
    start = end;
  }
  return res;
}
