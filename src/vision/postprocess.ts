// From a model's raw output tensor for a batch to per-image detections in original-image pixels:
// decode (per model kind) -> darknet NMS -> maxDet -> response objects. `decodeJobs` is what the
// runtime's worker calls: it trusts the job (parameters resolved by vision/params.ts, the box frame
// taken from the geometry preprocessing used) and checks only tensor shapes. `postprocess` is the
// same for offline callers (tests, benches) that start from image sizes and unresolved parameters.

import { need } from '../errors.ts';
import type { DetectorKind, WordTreeSpec } from '../manifest.ts';
import type { Candidates } from './candidates.ts';
import { boxFrame, toPixelCorners, type BoxFrame, type PadPosition, type PreprocessMode } from './letterbox.ts';
import { nmsBatch } from './nms.ts';
import { resolveParams, type PostprocessParams } from './params.ts';
import { decodeRegion, decodeRegionTree, type RegionLayer } from './region.ts';
import type { Detection, ImageSize, ResolvedParams } from './types.ts';
import { buildWordTree, treePath, type WordTree } from './wordtree.ts';
import { decodeDetection, type DetectionLayer } from './yolov1.ts';

export {
  DEFAULT_HIER, DEFAULT_MAX_DET, DEFAULT_NMS_REGION, DEFAULT_NMS_V1, DEFAULT_THRESH, resolveParams, type PostprocessParams,
} from './params.ts';

/** The model.json fields decoding needs; any detector Manifest fits. */
export interface DetectorModelLike {
  input: { width: number; height: number };
  preprocess: PreprocessMode;
  /** pad-square: where the image sits in its square */
  pad?: PadPosition;
  names: readonly string[];
  /** the model's own score threshold default */
  thresh?: number;
  nms?: number;
  /** yolo9000: the model's hierarchy threshold default */
  hier?: number;
  side?: number;
  num?: number;
  sqrt?: boolean;
  softmax?: boolean;
  anchors?: readonly number[];
  coords?: number;
  background?: boolean;
  /** false: region output without class entries (one class, scored by objectness) */
  class_scores?: boolean;
  /** yolo9000: a built WordTree or {parents}; a file name must be read and parsed by the caller */
  tree?: WordTree | WordTreeSpec | string;
}

/** A detector's decoding set-up, built once per model (for YOLO9000 the WordTree and its leaves too). */
export type DetectorLayout = { names: readonly string[] } & (
  | { kind: 'yolov1'; layer: DetectionLayer }
  | { kind: 'yolov2'; layer: RegionLayer }
  | { kind: 'yolo9000'; layer: Omit<RegionLayer, 'classes' | 'softmax'>; tree: WordTree; leaves: readonly number[] });

/** One image of a batch as the worker receives it. */
export interface ImageJob {
  /** the inverse of the paste preprocessing did, with the original image size */
  frame: BoxFrame;
  params: ResolvedParams;
}

function field<T>(v: T | undefined, what: string): T {
  need(v !== undefined, `model is missing "${what}"`);
  return v;
}

function wordTreeOf(t: DetectorModelLike['tree']): WordTree {
  need(t, 'yolo9000 model has no "tree"');
  need(typeof t !== 'string', `yolo9000 tree "${String(t)}" is a file name: read it and pass parseTreeText(text) as model.tree`);
  return 'groupOffset' in t ? t : buildWordTree(t);
}

/** Builds the decoding set-up; throws (a fault of the model folder) when model.json lacks a field. */
export function detectorLayout(kind: DetectorKind, model: DetectorModelLike): DetectorLayout {
  const names = model.names;
  const region = () => ({ num: field(model.num, 'num'), anchors: field(model.anchors, 'anchors'), background: model.background, coords: model.coords });
  switch (kind) {
    case 'yolov1':
      return { kind, names, layer: {
        side: field(model.side, 'side'), num: field(model.num, 'num'), classes: names.length,
        sqrt: field(model.sqrt, 'sqrt'), softmax: field(model.softmax, 'softmax'),
      } };
    case 'yolov2':
      return { kind, names, layer: { ...region(), classes: names.length, softmax: field(model.softmax, 'softmax'), classScores: model.class_scores } };
    case 'yolo9000': {
      const tree = wordTreeOf(model.tree);
      need(tree.n === names.length, `tree has ${tree.n} nodes but the model has ${names.length} names`);
      const leaves: number[] = [];
      for (let j = 0; j < tree.n; j++) if (tree.child[j] < 0) leaves.push(j);
      return { kind, names, layer: region(), tree, leaves };
    }
    default:
      throw new Error(`not a detector kind: ${String(kind)}`);
  }
}

/** Decode only: candidates per image (boxes relative to the original images), before NMS. */
export function decodeCandidates(
  layout: DetectorLayout, output: Float32Array, dims: readonly number[], frames: readonly BoxFrame[],
  r: Pick<ResolvedParams, 'thresh' | 'hier' | 'treeScores' | 'classes'>,
): Candidates[] {
  switch (layout.kind) {
    case 'yolov1':
      return decodeDetection(output, dims, layout.layer, frames, r.thresh);
    case 'yolov2':
      return decodeRegion(output, dims, layout.layer, frames, r.thresh);
    case 'yolo9000':
      return decodeRegionTree(output, dims, layout.layer, layout.tree, frames, r.thresh,
        r.treeScores === 'classes' ? { mode: 'classes', nodes: r.classes ?? layout.leaves } : { mode: 'top', hier: r.hier });
  }
}

/** Images of one batch that share their parameters: decode + NMS + response objects. */
function decodeGroup(layout: DetectorLayout, output: Float32Array, dims: readonly number[], frames: readonly BoxFrame[], r: ResolvedParams): Detection[][] {
  const cands = decodeCandidates(layout, output, dims, frames, r);
  const kept = nmsBatch(cands, { nms: r.nms, agnostic: r.agnostic, classes: r.classes, maxDet: r.maxDet, preNmsTopK: r.preNmsTopK });
  const { names } = layout;
  const tree = layout.kind === 'yolo9000' ? layout.tree : null;
  return cands.map((c, b) => {
    const { imW, imH } = frames[b];
    const out: Detection[] = [];
    for (const i of kept[b]) {
      const q = i * 4;
      const cls = c.cls[i];
      const d: Detection = {
        class_id: cls,
        class: names[cls],
        score: c.prob[i],
        box: toPixelCorners(c.box[q], c.box[q + 1], c.box[q + 2], c.box[q + 3], imW, imH, r.clip),
      };
      if (tree) d.path = treePath(tree, cls, names);
      out.push(d);
    }
    return out;
  });
}

function paramsKey(p: ResolvedParams): string {
  return JSON.stringify([p.thresh, p.nms, p.hier, p.maxDet, p.classes, p.agnostic, p.treeScores, p.preNmsTopK, p.clip]);
}

/**
 * Raw output of a batch (N images, `dims` the ORT output shape) -> detections per image in ORIGINAL
 * image pixels, best first. Requests batched together may carry different parameters: consecutive
 * images with equal parameters share one call, which keeps the common case (all defaults) a single
 * batched decode + NMS.
 */
export function decodeJobs(layout: DetectorLayout, output: Float32Array, dims: readonly number[], jobs: readonly ImageJob[]): Detection[][] {
  const n = jobs.length;
  need(dims[0] === n, `output batch ${dims[0]} does not match ${n} images`);
  const per = n === 0 ? 0 : output.length / n;
  const res: Detection[][] = [];
  for (let start = 0; start < n;) {
    const key = paramsKey(jobs[start].params);
    let end = start + 1;
    while (end < n && paramsKey(jobs[end].params) === key) end++;
    const whole = start === 0 && end === n;
    const out = whole ? output : output.subarray(start * per, end * per);
    const d = whole ? dims : [end - start, ...dims.slice(1)];
    res.push(...decodeGroup(layout, out, d, jobs.slice(start, end).map((j) => j.frame), jobs[start].params));
    start = end;
  }
  return res;
}

const layouts = new WeakMap<object, DetectorLayout>();

/**
 * Offline form (tests, benches, tools): `imageSizes[b]` is the size of image b before preprocessing,
 * parameters as a caller gives them (checked here). The layout is built once per model object.
 */
export function postprocess(
  kind: DetectorKind, model: DetectorModelLike, output: Float32Array, dims: readonly number[],
  imageSizes: readonly ImageSize[], params: PostprocessParams = {},
): Detection[][] {
  const r = resolveParams({ kind, names: model.names, thresh: model.thresh, nms: model.nms, hier: model.hier }, params);
  let layout = layouts.get(model);
  if (!layout || layout.kind !== kind) {
    layout = detectorLayout(kind, model);
    layouts.set(model, layout);
  }
  const frames = imageSizes.map((s) => boxFrame(model.preprocess, s, model.input.width, model.input.height, model.pad));
  return decodeGroup(layout, output, dims, frames, r);
}
