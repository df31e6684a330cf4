// Micro-bench for src/vision: decode + NMS on model-sized raw outputs (seeded random logits).
//   node --import tsx bench/vision.ts [--iters N]
// Random logits are a heavy load: objectness logits ~ N(0, 2) put about 45% of all (anchor, cell)
// pairs over thresh .25, far more candidates than a trained model on a real image. The YOLO9000 line
// also times darknet's order (tree softmax of every anchor and cell over all 9418 nodes, then the top
// prediction) on the same tensor, so the gate + lazy descent speedup is a ratio from one run.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import {
  boxFrame, buildWordTree, decodeRegion, decodeRegionTree, hierarchyPredictions, hierarchyTopPrediction, logistic,
  nmsBatch, parseTreeText, postprocess, treeSoftmax, type WordTree,
} from '../src/vision/index.ts';
import { gaussian } from '../test/helpers/random.ts';

const iters = Number(process.argv[process.argv.indexOf('--iters') + 1]) || 200;

function logits(n: number, seed: number, std = 2): Float32Array {
  const g = gaussian(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = std * g();
  return a;
}

/** median and p90 of `iters` timed runs after a warm-up, in ms */
function time(fn: () => unknown, n = iters): { med: number; p90: number } {
  for (let i = 0; i < Math.min(20, n); i++) fn();
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    fn();
    t.push(performance.now() - s);
  }
  t.sort((x, y) => x - y);
  return { med: t[Math.floor(n / 2)], p90: t[Math.floor(n * 0.9)] };
}

const fmt = (r: { med: number; p90: number }) => `median ${r.med.toFixed(3)} ms, p90 ${r.p90.toFixed(3)} ms`;
const rows: string[] = [];
function report(name: string, r: { med: number; p90: number }, extra = ''): void {
  const line = `${name.padEnd(58)} ${fmt(r)}${extra ? `  (${extra})` : ''}`;
  rows.push(line);
  console.log(line);
}

const im = { width: 768, height: 576 };
const voc = Array.from({ length: 20 }, (_, i) => `c${i}`);

// ---- YOLOv2-voc: 416 -> 13x13, 5 anchors, 20 classes ----
{
  const per = 5 * 25 * 169;
  const model = {
    input: { width: 416, height: 416 }, preprocess: 'letterbox' as const, names: voc, num: 5, coords: 4, softmax: true,
    anchors: [1.08, 1.19, 3.42, 4.41, 6.63, 11.38, 9.42, 5.11, 16.62, 10.52],
  };
  const out8 = new Float32Array(per * 8);
  for (let b = 0; b < 8; b++) out8.set(logits(per, 100 + b), b * per);
  const ims = Array.from({ length: 8 }, () => im);
  const one = (b: number) => postprocess('yolov2', model, out8.subarray(b * per, (b + 1) * per), [1, 125, 13, 13], [im]);
  const dets = [0, 1, 2, 3, 4, 5, 6, 7].reduce((a, b) => a + one(b)[0].length, 0) / 8;
  const single = time(() => { for (let b = 0; b < 8; b++) one(b); });
  report('yolov2-voc 13x13x5x20, 1 image: decode+NMS', { med: single.med / 8, p90: single.p90 / 8 },
    `mean of 8 images, ${dets.toFixed(0)} detections each`);
  const dims8 = [8, 125, 13, 13];
  report('yolov2-voc batch 8 in one call: decode+NMS', time(() => postprocess('yolov2', model, out8, dims8, ims)));
  const frames = ims.map((s) => boxFrame('letterbox', s, 416, 416));
  const cands = decodeRegion(out8, dims8, { num: 5, anchors: model.anchors, classes: 20, softmax: true }, frames, 0.25);
  const total = cands.reduce((a, c) => a + c.count, 0);
  report('yolov2-voc batch 8: nmsBatch alone', time(() => nmsBatch(cands, { nms: 0.45 })), `${total} candidate entries`);
  // low threshold: ~300 entries per class and image, the O(k^2) regime
  const candsLow = decodeRegion(out8, dims8, { num: 5, anchors: model.anchors, classes: 20, softmax: true }, frames, 0.01);
  const totalLow = candsLow.reduce((a, c) => a + c.count, 0);
  report('yolov2-voc batch 8: nmsBatch alone, thresh .01', time(() => nmsBatch(candsLow, { nms: 0.45 }), 30), `${totalLow} candidate entries`);
}

// ---- YOLOv2-coco 608: 19x19x5x80 ----
{
  const dims = [1, 5 * 85, 19, 19];
  const out = logits(5 * 85 * 361, 2);
  const model = {
    input: { width: 608, height: 608 }, preprocess: 'letterbox' as const, names: Array.from({ length: 80 }, (_, i) => `c${i}`),
    num: 5, coords: 4, softmax: true, anchors: [0.57, 0.68, 1.87, 2.06, 3.34, 5.47, 7.88, 3.53, 9.77, 9.17],
  };
  report('yolov2-coco 19x19x5x80, 1 image: decode+NMS', time(() => postprocess('yolov2', model, out, dims, [im])));
}

// ---- YOLO9000: 544 -> 17x17, 9418 classes ----
{
  const spec = parseTreeText(readFileSync('/usr/share/darknet/data/9k.tree', 'utf8'));
  const names = spec.labels!;
  const tree: WordTree = buildWordTree(spec);
  for (const num of [5, 3]) {
    const E = 5 + tree.n;
    const dims = [1, num * E, 17, 17];
    const out = logits(num * E * 289, 3, 3);
    const model = {
      input: { width: 544, height: 544 }, preprocess: 'letterbox' as const, names, num, coords: 4, softmax: true, tree,
      anchors: [0.77871, 1.14074, 3.00525, 4.31277, 9.22725, 9.61974, 1, 1, 2, 2].slice(0, 2 * num),
    };
    const n = postprocess('yolo9000', model, out, dims, [im])[0].length;
    const fast = time(() => postprocess('yolo9000', model, out, dims, [im]));
    report(`yolo9000 17x17x${num}x9418, 1 image: decode+NMS`, fast, `${n} detections, ${(out.length / 1e6).toFixed(1)} M logits`);
    const all = time(() => postprocess('yolo9000', model, out, dims, [im], { thresh: 0 }), 50);
    report(`yolo9000 17x17x${num}x9418, thresh 0 (every box a candidate)`, all);

    // darknet's order on the same tensor: full tree softmax + path products for every (anchor, cell)
    const HW = 289;
    const p = new Float32Array(tree.n);
    const naive = time(() => {
      let acc = 0;
      for (let a = 0; a < num; a++) for (let i = 0; i < HW; i++) {
        treeSoftmax(out, (a * E + 5) * HW + i, HW, tree, p);
        hierarchyPredictions(p, tree);
        acc += hierarchyTopPrediction(p, tree, 0.5) + logistic(out[(a * E + 4) * HW + i]);
      }
      return acc;
    }, 3);
    report(`yolo9000 17x17x${num}x9418: darknet order (tree softmax everywhere)`, naive,
      `${(naive.med / fast.med).toFixed(0)}x the gated lazy decode`);
  }
  const E = 5 + tree.n;
  const per = 3 * E * 289;
  const out8 = logits(8 * per, 4, 3);
  const model = {
    input: { width: 544, height: 544 }, preprocess: 'letterbox' as const, names, num: 3, coords: 4, softmax: true, tree,
    anchors: [0.77871, 1.14074, 3.00525, 4.31277, 9.22725, 9.61974],
  };
  const ims = Array.from({ length: 8 }, () => im);
  const single = time(() => {
    for (let b = 0; b < 8; b++) postprocess('yolo9000', model, out8.subarray(b * per, (b + 1) * per), [1, 3 * E, 17, 17], [im]);
  }, 50);
  report('yolo9000 17x17x3x9418, 8 images one by one: per image', { med: single.med / 8, p90: single.p90 / 8 });
  report('yolo9000 17x17x3x9418 batch 8 in one call: decode+NMS', time(() => postprocess('yolo9000', model, out8, [8, 3 * E, 17, 17], ims), 50));
  const frames = ims.map((s) => boxFrame('letterbox', s, 544, 544));
  const cands = decodeRegionTree(out8, [8, 3 * E, 17, 17], { num: 3, anchors: model.anchors }, tree, frames, 0.25, { mode: 'top', hier: 0.5 });
  report('yolo9000 batch 8: nmsBatch alone', time(() => nmsBatch(cands, { nms: 0.45 })),
    `${cands.reduce((a, c) => a + c.count, 0)} candidate entries`);
}

console.log(`\nnode ${process.version}, ${iters} iterations per line (fewer where marked in the code), ` +
  `load average ${loadavg().map((v) => v.toFixed(1)).join(' ')} (other work on the machine slows every line alike)`);
