// face-api weights manifest + .bin -> model folder (model.onnx + model.json). As the darknet importer:
// everything is converted and loaded in onnxruntime in memory first, written under a temporary name
// beside --out, and renamed into place only when complete, so a refusal never leaves a partial folder.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { validateManifest, type YoloV2Manifest } from '../../manifest.ts';
import { checkModel } from '../check.ts';
import { writeModelFolder } from '../write-folder.ts';
import { FaceApiError } from './errors.ts';
import { buildGraph, INPUT_NAME, OUTPUT_NAME, recogniseArch } from './network.ts';
import { findManifest, loadWeights } from './weights.ts';

/**
 * face-api's constants for this family (src/tinyFaceDetector/const.ts, equal to tinyYolov2's
 * BOX_ANCHORS_SEPARABLE / MEAN_RGB_SEPARABLE): anchors in grid cells, the mean RGB it subtracts before
 * dividing by 255, its NMS IoU and its default score threshold (TinyYolov2Options).
 */
export const FACEAPI_ANCHORS = [1.603231, 2.094468, 6.041143, 7.080126, 2.882459, 3.518061, 4.266906, 5.178857, 9.041765, 10.66308];
export const FACEAPI_MEAN_RGB = [117.001, 114.697, 97.404];
export const FACEAPI_NMS = 0.4;
export const FACEAPI_THRESH = 0.5;
export const DEFAULT_SIZE = 416;

export interface FaceApiImportOptions {
  /** a *weights_manifest.json, or a folder holding face-api's models */
  manifest: string;
  out: string;
  name?: string;
  /** input side in pixels, a multiple of 32 (face-api's inputSize) */
  size?: number;
}

export interface FaceApiImportResult {
  dir: string;
  manifest: YoloV2Manifest;
  onnxBytes: number;
  title: string;
}

/** The npm package the manifest ships in, when it is one (recorded as the model's origin). */
function packageOf(manifestPath: string): { name: string; version: string; license?: string } | undefined {
  for (let d = dirname(resolve(manifestPath)), i = 0; i < 3; d = dirname(d), i++) {
    try {
      const p = JSON.parse(readFileSync(join(d, 'package.json'), 'utf8'));
      if (typeof p.name === 'string' && typeof p.version === 'string') return p;
    } catch { /* not here */ }
  }
  return undefined;
}

export function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 64 || size > 4096 || size % 32 !== 0) {
    throw new FaceApiError(`input size ${size}: face-api needs a multiple of 32 (64..4096)`);
  }
}

/** Builds model.onnx and model.json in memory. */
export async function convertFaceApi(o: { manifest: string; name: string; size?: number }) {
  const size = o.size ?? DEFAULT_SIZE;
  checkSize(size);
  const path = findManifest(o.manifest);
  const w = loadWeights(path);
  const arch = recogniseArch(w.tensors);
  const graph = buildGraph(arch, w.tensors, size, `face-api ${arch.title} from ${basename(path)}; output = raw conv8 (tx ty tw th to per anchor)`);
  try {
    await checkModel(graph.bytes);
  } catch (e) {
    throw new FaceApiError(`the generated graph does not load in onnxruntime: ${(e as Error).message}`);
  }
  const pkg = packageOf(path);
  const sha256 = Object.fromEntries(w.files.map((f) => [f, createHash('sha256').update(readFileSync(join(dirname(path), f))).digest('hex')]));
  const manifest: YoloV2Manifest = {
    name: o.name,
    kind: 'yolov2',
    description: `face-api's ${arch.title} (a Tiny YOLOv2 with depthwise-separable convolutions, trained on faces), ` +
      `imported from ${basename(path)} at ${size}x${size} (grid ${graph.grid}x${graph.grid})`,
    input: { width: size, height: size, channels: 3, layout: 'NCHW' },
    // face-api: padToSquare (image top-left, black padding), tf resizeBilinear of the square, (x - mean) / 255
    preprocess: 'pad-square',
    pad: 'top-left',
    pad_value: 0,
    resample: 'bilinear-tf',
    mean: FACEAPI_MEAN_RGB,
    std: [255, 255, 255],
    names: ['face'],
    num: 5,
    anchors: FACEAPI_ANCHORS,
    coords: 4,
    softmax: false,
    class_scores: false,
    thresh: FACEAPI_THRESH,
    nms: FACEAPI_NMS,
    source: 'face-api',
    origin: {
      package: pkg ? `${pkg.name}@${pkg.version}` : undefined,
      url: 'https://github.com/vladmandic/face-api (weights: https://github.com/justadudewhohacks/face-api.js-models)',
      files: [basename(path), ...w.files.map((f) => `${f} sha256:${sha256[f]}`)],
      licence: 'MIT',
      authors: 'Vincent Mühler (face-api.js, the model and its weights), Vladimir Mandic (@vladmandic/face-api)',
    },
    onnx: { input: INPUT_NAME, outputs: [OUTPUT_NAME] },
  };
  validateManifest(JSON.parse(JSON.stringify(manifest)));
  return { onnx: graph.bytes, manifest, title: arch.title };
}

export async function importFaceApi(o: FaceApiImportOptions): Promise<FaceApiImportResult> {
  const out = resolve(o.out);
  if (existsSync(out)) throw new FaceApiError(`output folder ${o.out} already exists; remove it or choose another --out`);
  const name = o.name ?? basename(out);
  if (!name) throw new FaceApiError('model name is empty');
  const { onnx, manifest, title } = await convertFaceApi({ manifest: o.manifest, name, size: o.size });
  try {
    writeModelFolder(out, onnx, manifest);
  } catch (e) {
    throw new FaceApiError(`cannot write ${o.out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return { dir: out, manifest, onnxBytes: onnx.byteLength, title };
}
