// DetectParams from any caller (HTTP query, CLI flags, code) checked against the model before any work
// is done: a bad value is the caller's mistake (400 bad_parameter), never a failure deep in a worker.
import { PinholeError } from '../errors.ts';
import { TREE_SCORES, type DetectParams } from './types.ts';

function bad(msg: string): PinholeError {
  return new PinholeError('bad_parameter', msg);
}

function unit(p: DetectParams, k: 'thresh' | 'nms' | 'hier'): void {
  const v = p[k];
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) throw bad(`${k} must be a number in [0, 1], got ${JSON.stringify(v)}`);
}

/** Returns a clean copy with only the known fields; throws PinholeError('bad_parameter'). */
export function validateDetectParams(p: DetectParams | undefined, classes: number): DetectParams {
  if (p === undefined || p === null) return {};
  if (typeof p !== 'object' || Array.isArray(p)) throw bad('detection parameters must be an object');
  unit(p, 'thresh');
  unit(p, 'nms');
  unit(p, 'hier');
  const out: DetectParams = {};
  if (p.thresh !== undefined) out.thresh = p.thresh;
  if (p.nms !== undefined) out.nms = p.nms;
  if (p.hier !== undefined) out.hier = p.hier;
  if (p.maxDet !== undefined) {
    if (!Number.isInteger(p.maxDet) || p.maxDet < 1) throw bad(`max_det must be a positive integer, got ${JSON.stringify(p.maxDet)}`);
    out.maxDet = p.maxDet;
  }
  if (p.classes !== undefined) {
    if (!Array.isArray(p.classes)) throw bad('classes must be a list of class ids');
    for (const c of p.classes) {
      if (!Number.isInteger(c) || c < 0 || c >= classes) throw bad(`classes: ${JSON.stringify(c)} is not a class id of this model (0..${classes - 1})`);
    }
    out.classes = [...new Set(p.classes)].sort((a, b) => a - b);
  }
  if (p.treeScores !== undefined) {
    if (!TREE_SCORES.includes(p.treeScores)) throw bad(`tree_scores must be one of ${TREE_SCORES.join(', ')}, got ${JSON.stringify(p.treeScores)}`);
    out.treeScores = p.treeScores;
  }
  if (p.agnostic !== undefined) {
    if (typeof p.agnostic !== 'boolean') throw bad(`agnostic must be true or false, got ${JSON.stringify(p.agnostic)}`);
    out.agnostic = p.agnostic;
  }
  return out;
}
