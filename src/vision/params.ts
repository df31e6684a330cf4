// The one place detection parameters are checked: a caller's DetectParams against one model, completed
// with that model's defaults. The runtime's door calls it once per request; everything below (decoders,
// NMS, the worker) takes the ResolvedParams as they are. A bad value is the caller's mistake (400
// bad_parameter), never a failure deep in a worker.
import { PinholeError } from '../errors.ts';
import type { DetectorKind } from '../manifest.ts';
import { TREE_SCORES, type DetectParams, type ResolvedParams } from './types.ts';

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
// 2048 >= H*W*num of every shipped geometry (yolov2@608: 1805), so the default never changes the
// result; it bounds the O(k^2) work only for unusual grids at very low thresholds.
export const DEFAULT_PRE_NMS_TOPK = 2048;
export const DEFAULT_MAX_DET = 1000;

/** What resolving needs of a model: its kind, class count and model.json defaults. */
export interface ParamDefaults {
  kind: DetectorKind;
  names: readonly unknown[];
  nms?: number;
  hier?: number;
  /** the model's own score threshold default (model.json thresh) */
  thresh?: number;
}

/** DetectParams plus the offline knobs of postprocess() (not reachable from HTTP or the CLI). */
export interface PostprocessParams extends DetectParams {
  /** entries per class entering NMS (see NmsOptions.preNmsTopK) */
  preNmsTopK?: number;
  /** clip boxes to the image; off by default because darknet reports unclipped boxes */
  clip?: boolean;
}

function bad(msg: string): PinholeError {
  return new PinholeError('bad_parameter', msg);
}

/** A threshold in [0, 1]. */
export function checkUnit(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) throw bad(`${name} must be a number in [0, 1], got ${JSON.stringify(v)}`);
  return v;
}

/** An integer >= lo. */
export function checkInt(name: string, v: unknown, lo: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo) {
    throw bad(`${name} must be ${lo === 1 ? 'a positive integer' : `an integer >= ${lo}`}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Class ids of a model with `count` classes: sorted, each once. */
export function checkClassIds(v: unknown, count: number): number[] {
  if (!Array.isArray(v)) throw bad('classes must be a list of class ids');
  for (const c of v) {
    if (!Number.isInteger(c) || c < 0) throw bad(`classes: ${JSON.stringify(c)} is not a class id`);
    if (c >= count) throw bad(`classes: class id ${c} is out of range: the model has ${count} classes (0..${count - 1})`);
  }
  return [...new Set(v as number[])].sort((a, b) => a - b);
}

function checkTreeScores(v: unknown): ResolvedParams['treeScores'] {
  if (!(TREE_SCORES as readonly unknown[]).includes(v)) throw bad(`tree_scores must be one of ${TREE_SCORES.join(', ')}, got ${JSON.stringify(v)}`);
  return v as ResolvedParams['treeScores'];
}

function checkBool(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw bad(`${name} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Checks every parameter a caller gave and fills the rest from the model (model.json thresh/nms/hier) and
 * darknet's defaults. Throws PinholeError('bad_parameter') naming the parameter.
 */
export function resolveParams(model: ParamDefaults, p: PostprocessParams = {}): ResolvedParams {
  if (p === null || typeof p !== 'object' || Array.isArray(p)) throw bad('detection parameters must be an object');
  const r: ResolvedParams = {
    thresh: p.thresh === undefined ? model.thresh ?? DEFAULT_THRESH : checkUnit('thresh', p.thresh),
    nms: p.nms === undefined ? model.nms ?? (model.kind === 'yolov1' ? DEFAULT_NMS_V1 : DEFAULT_NMS_REGION) : checkUnit('nms', p.nms),
    // other kinds ignore hier, like darknet does; it is still a number in [0, 1]
    hier: p.hier === undefined ? model.hier ?? DEFAULT_HIER : checkUnit('hier', p.hier),
    maxDet: p.maxDet === undefined ? DEFAULT_MAX_DET : checkInt('max_det', p.maxDet, 1),
    treeScores: p.treeScores === undefined ? 'top' : checkTreeScores(p.treeScores),
    agnostic: p.agnostic === undefined ? false : checkBool('agnostic', p.agnostic),
    clip: p.clip === undefined ? false : checkBool('clip', p.clip),
  };
  if (p.classes !== undefined) r.classes = checkClassIds(p.classes, model.names.length);
  if (p.preNmsTopK !== undefined) r.preNmsTopK = checkInt('preNmsTopK', p.preNmsTopK, 1);
  return r;
}
