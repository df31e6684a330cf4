// Data bench: how fast the built-in generator draws images (training draws 10-50k of them), how fast
// generated scenes encode to PNG (eval hands files to the serving path), and how fast mAP is computed.
//   node --import tsx bench/data.ts [--n N]
// Single thread, this process only. The load average is printed because other work on the machine
// (training, tests) slows every figure alike.
import { loadavg } from 'node:os';
import { synthCaptionScene } from '../src/train/data/caption-scenes.ts';
import { synthClassification, synthDetection } from '../src/train/data/synth-datasets.ts';
import { synthScene } from '../src/train/data/synth.ts';
import { evaluateDetections, type Prediction, type Truth } from '../src/vision/map.ts';

const argN = process.argv.indexOf('--n');
const N = argN > 0 ? Number(process.argv[argN + 1]) : 300;

function rate(label: string, n: number, f: (i: number) => void): number {
  for (let i = 0; i < Math.min(10, n); i++) f(1_000_000 + i); // warm up the JIT on other indices
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f(i);
  const s = (performance.now() - t0) / 1000;
  const r = n / s;
  console.log(`${label.padEnd(44)} ${r.toFixed(1).padStart(8)} images/s  (${((s * 1000) / n).toFixed(2)} ms/image, n=${n})`);
  return r;
}

async function rateAsync(label: string, n: number, f: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(5, n); i++) await f(i);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await f(i);
  const s = (performance.now() - t0) / 1000;
  console.log(`${label.padEnd(44)} ${(n / s).toFixed(1).padStart(8)} images/s  (${((s * 1000) / n).toFixed(2)} ms/image, n=${n})`);
  return n / s;
}

console.log(`data bench (load average ${loadavg().map((v) => v.toFixed(2)).join(' ')}, ${N} images a line)`);
for (const size of [160, 256, 320]) rate(`synth detection scene ${size}x${size}`, N, (i) => synthScene(1, i, { width: size, height: size }));
const cls = synthClassification(1, 1_000_000 + N, { width: 256, height: 256 });
await rateAsync('synth classification image 256x256', N, (i) => cls.get(i));
rate('caption scene 64x64', N * 4, (i) => synthCaptionScene(1, i, { size: 64 }));
const det = synthDetection(1, N, { width: 256, height: 256 });
await rateAsync('synth scene 256 + PNG encode (file())', Math.min(N, 100), (i) => det.file!(i));

// mAP over 2000 images x 8 boxes, 20 detections per image (16 classes)
const truths: Truth[] = [];
const preds: Prediction[] = [];
let seed = 1;
const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
for (let im = 0; im < 2000; im++) {
  for (let k = 0; k < 8; k++) {
    const x = rnd() * 200, y = rnd() * 200, w = 10 + rnd() * 50, h = 10 + rnd() * 50;
    const classId = Math.floor(rnd() * 16);
    truths.push({ imageId: String(im), classId, box: { x1: x, y1: y, x2: x + w, y2: y + h } });
    preds.push({ imageId: String(im), classId, score: rnd(), box: { x1: x + rnd() * 6 - 3, y1: y + rnd() * 6 - 3, x2: x + w + rnd() * 6 - 3, y2: y + h } });
  }
  for (let k = 0; k < 12; k++) {
    const x = rnd() * 200, y = rnd() * 200;
    preds.push({ imageId: String(im), classId: Math.floor(rnd() * 16), score: rnd() * 0.5, box: { x1: x, y1: y, x2: x + 30, y2: y + 30 } });
  }
}
const t0 = performance.now();
const m = evaluateDetections(preds, truths, Array.from({ length: 16 }, (_, i) => `c${i}`));
console.log(`${'mAP (VOC + COCO) 2000 images, 40k detections'.padEnd(44)} ${(performance.now() - t0).toFixed(0).padStart(8)} ms  (map50 ${m.map50.toFixed(3)}, map ${m.map.toFixed(3)})`);
