// From a model's raw output tensor for a batch to per-image detections in original-image pixels:
// decode (per model kind) -> darknet NMS -> maxDet -> response objects. The one entry point the
// runtime calls; everything below it is pure.

import type { DetectorKind, WordTreeSpec } from '../manifest.ts';
import type { Detection, DetectParams, TreeScores } from '../runtime/types.ts';
import { PinholeError } from '../errors.ts';
import type { Candidates } from './candidates.ts';
import { checkThresh } from './checks.ts';
import { boxFrame, toPixelCorners, type ImageSize, type PadPosition, type PreprocessMode } from './letterbox.ts';
import { DEFAULT_MAX_DET, nmsBatch } from './nms.ts';
import { decodeRegion, decodeRegionTree } from './region.ts';
import { buildWordTree, treePath, type WordTree } from './wordtree.ts';
import { decodeDetection } from './yolov1.ts';

/**
 * Defaults. thresh .25 rather than darknet `detector test`'s .24: the round figure is what users
 * type and what the docs quote; the difference only admits/removes boxes scoring in (.24, .25].
 * nms: the model's own value, else darknet's (`yolo test` .4 for YOLOv1, `detector test` .45); hier
 * likewise the model's own, else darknet's .5.
 */
export const DEFAULT_THRESH = 0.25;
export const DEFAULT_HIER = 0.5;
export const DEFAULT_NMS_V1 = 0.4;
export const DEFAULT_NMS_REGION = 0.45;

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

export interface PostprocessParams extends DetectParams {
  /** entries per class entering NMS (see NmsOptions.preNmsTopK) */
  preNmsTopK?: number;
  /** clip boxes to the image; off by default because darknet reports unclipped boxes */
  clip?: boolean;
}

export interface ResolvedParams {
  thresh: number;
  nms: number;
  hier: number;
  maxDet: number;
  treeScores: TreeScores;
}

export function resolveParams(kind: DetectorKind, model: Pick<DetectorModelLike, 'nms' | 'hier' | 'thresh'>, p: DetectParams = {}): ResolvedParams {
  const r = {
    thresh: p.thresh ?? model.thresh ?? DEFAULT_THRESH,
    nms: p.nms ?? model.nms ?? (kind === 'yolov1' ? DEFAULT_NMS_V1 : DEFAULT_NMS_REGION),
    hier: p.hier ?? model.hier ?? DEFAULT_HIER,
    maxDet: p.maxDet ?? DEFAULT_MAX_DET,
    treeScores: p.treeScores ?? 'top',
  };
  checkThresh(r.thresh, 'thresh');
  checkThresh(r.nms, 'nms');
  checkThresh(r.hier, 'hier');
  return r;
}

const treeCache = new WeakMap<object, WordTree>();

/** A WordTree for the model, built once per spec object (9418 nodes: not per request). */
export function modelTree(model: Pick<DetectorModelLike, 'tree'>): WordTree {
  const t = model.tree;
  if (!t) throw new Error('yolo9000 model has no "tree"');
  if (typeof t === 'string') {
    throw new Error(`yolo9000 tree "${t}" is a file name: read it and pass parseTreeText(text) as model.tree`);
  }
  if ('groupOffset' in t) return t;
  let tree = treeCache.get(t);
  if (!tree) {
    tree = buildWordTree(t);
    treeCache.set(t, tree);
  }
  return tree;
}

const leavesCache = new WeakMap<WordTree, number[]>();

/** The tree's leaves: the nodes scored per class when no class list is given. */
function treeLeaves(tree: WordTree): number[] {
  let l = leavesCache.get(tree);
  if (!l) {
    l = [];
    for (let j = 0; j < tree.n; j++) if (tree.child[j] < 0) l.push(j);
    leavesCache.set(tree, l);
  }
  return l;
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`model is missing "${what}"`);
  return v;
}

/** Decode only: candidates per image (boxes relative to the original images), before NMS. */
export function decodeCandidates(
  kind: DetectorKind, model: DetectorModelLike, output: Float32Array, dims: readonly number[],
  imageSizes: readonly ImageSize[], r: Pick<ResolvedParams, 'thresh' | 'hier' | 'treeScores'>, classes?: readonly number[],
): Candidates[] {
  const frames = imageSizes.map((s) => boxFrame(model.preprocess, s, model.input.width, model.input.height, model.pad));
  switch (kind) {
    case 'yolov1':
      return decodeDetection(output, dims, {
        side: need(model.side, 'side'), num: need(model.num, 'num'), classes: model.names.length,
        sqrt: need(model.sqrt, 'sqrt'), softmax: need(model.softmax, 'softmax'),
      }, frames, r.thresh);
    case 'yolov2':
      return decodeRegion(output, dims, {
        num: need(model.num, 'num'), anchors: need(model.anchors, 'anchors'), classes: model.names.length,
        softmax: need(model.softmax, 'softmax'), background: model.background, coords: model.coords,
        classScores: model.class_scores,
      }, frames, r.thresh);
    case 'yolo9000': {
      const tree = modelTree(model);
      if (tree.n !== model.names.length) throw new Error(`tree has ${tree.n} nodes but the model has ${model.names.length} names`);
      return decodeRegionTree(output, dims, {
        num: need(model.num, 'num'), anchors: need(model.anchors, 'anchors'), background: model.background, coords: model.coords,
      }, tree, frames, r.thresh, r.treeScores === 'classes' ? { mode: 'classes', nodes: classes ?? treeLeaves(tree) } : { mode: 'top', hier: r.hier });
    }
    default:
      throw new Error(`not a detector kind: ${String(kind)}`);
  }
}

/**
 * Raw output of a batch (N images) -> detections per image in ORIGINAL image pixels, best first.
 * `dims` is the ORT output shape; imageSizes[b] the size of image b before preprocessing.
 */
export function postprocess(
  kind: DetectorKind, model: DetectorModelLike, output: Float32Array, dims: readonly number[],
  imageSizes: readonly ImageSize[], params: PostprocessParams = {},
): Detection[][] {
  const r = resolveParams(kind, model, params);
  const nClasses = model.names.length;
  if (params.classes) {
    for (const c of params.classes) {
      if (!Number.isInteger(c) || c < 0 || c >= nClasses) {
        throw new PinholeError('bad_parameter', `classes: ${c} is not a class id of this model (0..${nClasses - 1})`);
      }
    }
  }
  const cands = decodeCandidates(kind, model, output, dims, imageSizes, r, params.classes);
  const kept = nmsBatch(cands, {
    nms: r.nms, agnostic: params.agnostic, classes: params.classes, maxDet: r.maxDet, preNmsTopK: params.preNmsTopK,
  });
  const tree = kind === 'yolo9000' ? modelTree(model) : null;
  return cands.map((c, b) => {
    const { width, height } = imageSizes[b];
    const out: Detection[] = [];
    for (const i of kept[b]) {
      const q = i * 4;
      const cls = c.cls[i];
      const d: Detection = {
        class_id: cls,
        class: model.names[cls],
        score: c.prob[i],
        box: toPixelCorners(c.box[q], c.box[q + 1], c.box[q + 2], c.box[q + 3], width, height, params.clip),
      };
      if (tree) d.path = treePath(tree, cls, model.names);
      out.push(d);
    }
    return out;
  });
}
