// face-api itself (@vladmandic/face-api, its tfjs-wasm Node build) as the reference for the imported
// Tiny Face Detector, and the real images both sides are run on: scikit-image's astronaut, OpenCV's
// messi5 and basketball1, frames of OpenCV's Megamind.avi (Debian python3-skimage, opencv-doc, ffmpeg).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import sharp from 'sharp';
import type * as tfTypes from '@tensorflow/tfjs';

const require = createRequire(import.meta.url);

export const FACEAPI_MODEL_DIR = join(process.cwd(), 'node_modules/@vladmandic/face-api/model');
export const ASTRONAUT = '/usr/lib/python3/dist-packages/skimage/data/astronaut.png';
const OPENCV_DATA = '/usr/share/doc/opencv-doc/examples/data';
export const MESSI = join(OPENCV_DATA, 'messi5.jpg');
export const BASKETBALL = join(OPENCV_DATA, 'basketball1.png');
export const MEGAMIND = join(OPENCV_DATA, 'Megamind.avi');

const hasFfmpeg = (() => {
  try {
    execFileSync('ffmpeg', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Why the real-image tests cannot run here, or undefined when they can (.ci/run installs all of it). */
export function missingImages(): string | undefined {
  const missing = [ASTRONAUT, MESSI, BASKETBALL, MEGAMIND].filter((p) => !existsSync(p));
  if (missing.length) return `missing ${missing.join(', ')} (apt-get install python3-skimage opencv-doc)`;
  if (!hasFfmpeg) return 'ffmpeg not installed (apt-get install ffmpeg)';
  return undefined;
}

/** `count` frames of Megamind.avi, every `step`-th from the first, as lossless PNGs in `dir`. */
export function megamindFrames(dir: string, count: number, step: number): string[] {
  execFileSync('ffmpeg', ['-v', 'error', '-i', MEGAMIND, '-vf', `select=not(mod(n\\,${step}))`, '-fps_mode', 'vfr',
    '-frames:v', String(count), join(dir, 'megamind-%02d.png')]);
  const files = Array.from({ length: count }, (_, i) => join(dir, `megamind-${String(i + 1).padStart(2, '0')}.png`));
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length) throw new Error(`ffmpeg wrote ${count - missing.length} of ${count} frames`);
  return files;
}

export interface FaceApi {
  // the package's own typings are not worth importing for four calls
  api: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  tf: typeof tfTypes;
}

let loaded: Promise<FaceApi> | undefined;

/** face-api on the tfjs wasm backend with the Tiny Face Detector loaded from the package's own files. */
export function loadFaceApi(): Promise<FaceApi> {
  loaded ??= (async () => {
    const api = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
    const tf = api.tf as typeof tfTypes;
    await tf.setBackend('wasm');
    await tf.ready();
    await api.nets.tinyFaceDetector.loadFromDisk(FACEAPI_MODEL_DIR);
    return { api, tf };
  })();
  return loaded;
}

/** The decoded RGB pixels both sides get (sharp, EXIF-oriented, alpha dropped, sRGB), as Pinhole's preprocess decodes. */
export async function decodeRgb(file: string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(file, { autoOrient: true }).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

export interface Face {
  score: number;
  box: { x1: number; y1: number; x2: number; y2: number };
}

/** face-api's detectAllFaces(TinyFaceDetectorOptions) on decoded pixels: boxes in image pixels. */
export async function faceApiDetect(fa: FaceApi, img: { data: Buffer; width: number; height: number }, inputSize: number,
  scoreThreshold = 0.5): Promise<Face[]> {
  const t = fa.tf.tensor3d(img.data, [img.height, img.width, 3], 'int32');
  try {
    const r = await fa.api.detectAllFaces(t, new fa.api.TinyFaceDetectorOptions({ inputSize, scoreThreshold }));
    return r.map((d: { score: number; box: { x: number; y: number; width: number; height: number } }) => ({
      score: d.score, box: { x1: d.box.x, y1: d.box.y, x2: d.box.x + d.box.width, y2: d.box.y + d.box.height },
    }));
  } finally {
    t.dispose();
  }
}

/** face-api's network input (padToSquare, resizeBilinear, mean RGB, /255) as NHWC floats. */
export function faceApiInput(fa: FaceApi, img: { data: Buffer; width: number; height: number }, inputSize: number): Float32Array {
  const t = fa.tf.tensor3d(img.data, [img.height, img.width, 3], 'int32');
  try {
    const input = new fa.api.NetInput([t]);
    return fa.tf.tidy(() => {
      const batch = fa.tf.cast(input.toBatchTensor(inputSize, false), 'float32');
      const mean = fa.tf.tensor1d([117.001, 114.697, 97.404]);
      return fa.tf.div(fa.tf.sub(batch, mean), 255).dataSync() as Float32Array;
    });
  } finally {
    t.dispose();
  }
}

/** face-api's raw network output for its own input: NHWC [1, g, g, 25]. */
export async function faceApiRaw(fa: FaceApi, img: { data: Buffer; width: number; height: number }, inputSize: number): Promise<Float32Array> {
  const t = fa.tf.tensor3d(img.data, [img.height, img.width, 3], 'int32');
  try {
    const out = await fa.api.nets.tinyFaceDetector.forward(t, inputSize) as tfTypes.Tensor;
    const d = out.dataSync() as Float32Array;
    out.dispose();
    return d;
  } finally {
    t.dispose();
  }
}

export function iou(a: Face['box'], b: Face['box']): number {
  const w = Math.max(0, Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1));
  const h = Math.max(0, Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1));
  const inter = w * h;
  return inter / ((a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter);
}

/** Each reference face paired with the unused candidate of highest IoU (greedy, best reference score first). */
export function matchFaces(ref: Face[], got: Face[]): Array<{ ref: Face; got?: Face; iou: number }> {
  const used = new Set<number>();
  return [...ref].sort((a, b) => b.score - a.score).map((r) => {
    let best = -1, bestIou = 0;
    got.forEach((g, i) => {
      const v = iou(r.box, g.box);
      if (!used.has(i) && v > bestIou) { best = i; bestIou = v; }
    });
    if (best >= 0) used.add(best);
    return { ref: r, got: best >= 0 ? got[best] : undefined, iou: bestIou };
  });
}
