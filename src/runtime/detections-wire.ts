// Detections on their way from an inference worker to the main thread, as numbers in two typed arrays
// instead of an array of objects. postMessage clones objects property by property: dog.jpg's 60
// detections cost ~50 µs to serialize in the worker and ~130 µs to deserialize on the main thread, on the
// path of every request; the packed form ~5 + ~10 µs, the objects then built on the main thread in their
// final shape. In the server the reply hop went from 0.30 to 0.21 ms (bench/README.md, "The lone request").
import type { Detection } from '../vision/types.ts';

/** Every image of a batch: its detections' class ids, and score + box corners, five numbers each. */
export interface PackedDetections {
  /** detections per image */
  counts: Int32Array;
  classIds: Int32Array;
  /** score, x1, y1, x2, y2 per detection, as computed (float64: nothing is rounded on the way) */
  numbers: Float64Array;
  /** yolo9000: each detection's WordTree path, in order; absent when no detection has one */
  paths?: Array<string[] | undefined>;
}

export function packDetections(images: readonly Detection[][]): PackedDetections {
  let total = 0;
  for (const d of images) total += d.length;
  const counts = new Int32Array(images.length);
  const classIds = new Int32Array(total);
  const numbers = new Float64Array(total * 5);
  let paths: Array<string[] | undefined> | undefined;
  let k = 0;
  images.forEach((dets, b) => {
    counts[b] = dets.length;
    for (const d of dets) {
      classIds[k] = d.class_id;
      const o = k * 5;
      numbers[o] = d.score;
      numbers[o + 1] = d.box.x1;
      numbers[o + 2] = d.box.y1;
      numbers[o + 3] = d.box.x2;
      numbers[o + 4] = d.box.y2;
      if (d.path) (paths ??= new Array<string[] | undefined>(total))[k] = d.path;
      k++;
    }
  });
  return paths ? { counts, classIds, numbers, paths } : { counts, classIds, numbers };
}

/** The detections again, `names` the model's class names (the ones the worker decoded with). */
export function unpackDetections(p: PackedDetections, names: readonly string[]): Detection[][] {
  const out: Detection[][] = [];
  let k = 0;
  for (const n of p.counts) {
    const dets: Detection[] = new Array(n);
    for (let i = 0; i < n; i++, k++) {
      const o = k * 5, id = p.classIds[k];
      const d: Detection = {
        class_id: id, class: names[id], score: p.numbers[o],
        box: { x1: p.numbers[o + 1], y1: p.numbers[o + 2], x2: p.numbers[o + 3], y2: p.numbers[o + 4] },
      };
      const path = p.paths?.[k];
      if (path) d.path = path;
      dets[i] = d;
    }
    out.push(dets);
  }
  return out;
}
