// The imported Tiny Face Detector against face-api itself (tfjs wasm, in this process) on real photos and
// video frames, at face-api's input sizes 160, 416 and 608. Both sides get the same decoded RGB pixels.
// Three levels, so a failure says where the two part:
// 1. the network input: Pinhole's pad-square + bilinear-tf + mean/std == face-api's toBatchTensor + normalize;
// 2. the raw network output: ONNX Runtime on the imported graph == face-api's forward (tfjs conv kernels);
// 3. the detections through the Runtime (file bytes in, boxes out): same count, IoU >= .95, |score diff| <= .02.
// Residual: float32 rounding in different conv/resize kernels (tfjs-wasm/XNNPACK vs ORT/MLAS) and face-api's
// rounding of the scaled image size to whole network pixels (computeReshapedDimensions) in its box
// correction, where Pinhole maps boxes back with the exact fraction. Both are printed below.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertFaceApi } from '../src/onnx/faceapi/index.ts';
import { preprocess, pixelLayout } from '../src/runtime/preprocess.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import type { YoloV2Manifest } from '../src/manifest.ts';
import {
  ASTRONAUT, BASKETBALL, FACEAPI_MODEL_DIR, MESSI, decodeRgb, faceApiDetect, faceApiInput, faceApiRaw, loadFaceApi,
  matchFaces, megamindFrames, missingImages, type Face, type FaceApi,
} from './helpers/faceapi.ts';
import { tempDirs } from './helpers/tmp.ts';
import { mkdirSync, writeFileSync } from 'node:fs';

const SIZES = [160, 416, 608];
const skip = missingImages();
const tmp = tempDirs('pinhole-faceapi-conf-');

let fa: FaceApi;
let rt: Runtime;
let images: string[] = [];
const manifests = new Map<number, YoloV2Manifest>();
const worst = { iou: 1, score: 0, input: 0, raw: 0, faces: 0 };

beforeAll(async () => {
  if (skip) return;
  const root = tmp();
  for (const size of SIZES) {
    const { onnx, manifest } = await convertFaceApi({ manifest: FACEAPI_MODEL_DIR, name: `tiny-face-${size}`, size });
    const dir = join(root, 'models', `tiny-face-${size}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'model.onnx'), onnx);
    writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest));
    manifests.set(size, manifest);
  }
  images = [ASTRONAUT, MESSI, BASKETBALL, ...megamindFrames(root, 10, 27)];
  fa = await loadFaceApi();
  rt = await Runtime.create({ modelsDir: join(root, 'models'), maxBatch: 1, warmup: false, log: { info() {}, warn() {}, error() {} } });
}, 120_000);

afterAll(async () => {
  await rt?.close();
  if (!skip) {
    console.log(`face-api conformance over ${images.length} images x ${SIZES.length} sizes: ${worst.faces} faces, ` +
      `min IoU ${worst.iou.toFixed(4)}, max |score diff| ${worst.score.toFixed(5)}, ` +
      `max |input diff| ${worst.input.toExponential(2)}, max |raw output diff| ${worst.raw.toExponential(2)}`);
  }
});

const base = (f: string) => f.split('/').pop()!;

describe.skipIf(skip)(`Tiny Face Detector: Pinhole == face-api (wasm) on real images${skip ? ` (skipped: ${skip})` : ''}`, () => {
  for (const size of SIZES) {
    it(`network input and raw output at ${size}px (astronaut, messi5, first frame)`, async () => {
      const m = manifests.get(size)!;
      for (const file of [images[0], images[1], images[3]]) {
        const img = await decodeRgb(file);
        const pre = await preprocess(readFileSync(file), m.input, pixelLayout(m));
        const ref = faceApiInput(fa, img, size); // NHWC
        let d = 0;
        for (let c = 0; c < 3; c++) for (let i = 0; i < size * size; i++) d = Math.max(d, Math.abs(pre.data[c * size * size + i] - ref[i * 3 + c]));
        worst.input = Math.max(worst.input, d);
        expect(d, `${base(file)} input`).toBeLessThan(1e-5);

        const out = await rt.infer(`tiny-face-${size}`, { images: { type: 'float32', dims: [1, 3, size, size], data: pre.data } });
        const y = Object.values(out)[0];
        const g = y.dims[2];
        const raw = await faceApiRaw(fa, img, size); // NHWC [1, g, g, 25]
        expect(y.dims).toEqual([1, 25, g, g]);
        expect(raw.length).toBe(25 * g * g);
        let r = 0;
        const yd = y.data as Float32Array;
        for (let ch = 0; ch < 25; ch++) for (let i = 0; i < g * g; i++) r = Math.max(r, Math.abs(yd[ch * g * g + i] - raw[i * 25 + ch]));
        worst.raw = Math.max(worst.raw, r);
        expect(r, `${base(file)} raw output`).toBeLessThan(2e-3);
      }
    }, 60_000);

    it(`detections at ${size}px: same faces, IoU >= .95, |score diff| <= .02`, async () => {
      for (const file of images) {
        const ref = await faceApiDetect(fa, await decodeRgb(file), size);
        const res = await rt.detect(`tiny-face-${size}`, readFileSync(file));
        const got: Face[] = res.detections.map((d) => ({ score: d.score, box: d.box }));
        const what = `${base(file)} @${size}: face-api ${JSON.stringify(ref)} pinhole ${JSON.stringify(got)}`;
        expect(got.length, what).toBe(ref.length);
        for (const p of matchFaces(ref, got)) {
          expect(p.got, what).toBeDefined();
          expect(p.iou, what).toBeGreaterThanOrEqual(0.95);
          expect(Math.abs(p.got!.score - p.ref.score), what).toBeLessThanOrEqual(0.02);
          worst.iou = Math.min(worst.iou, p.iou);
          worst.score = Math.max(worst.score, Math.abs(p.got!.score - p.ref.score));
          worst.faces++;
        }
      }
    }, 60_000);
  }

  it('finds the astronaut\'s face where it is (and the default threshold is face-api\'s .5)', async () => {
    const res = await rt.detect('tiny-face-416', readFileSync(ASTRONAUT));
    expect(res.detections).toHaveLength(1);
    const d = res.detections[0];
    expect(d.class).toBe('face');
    expect(d.score).toBeGreaterThan(0.9);
    // Eileen Collins' face in the 512x512 picture: around x 170-260, y 40-150
    expect((d.box.x1 + d.box.x2) / 2).toBeGreaterThan(180);
    expect((d.box.x1 + d.box.x2) / 2).toBeLessThan(250);
    expect((d.box.y1 + d.box.y2) / 2).toBeGreaterThan(60);
    expect((d.box.y1 + d.box.y2) / 2).toBeLessThan(140);
  });
});
