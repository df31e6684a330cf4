// Flags of the subcommands that run models through the Runtime: `--ep` (serve, detect, eval, generate) and
// the detection flags (detect, eval), parsed with the ranges the runtime accepts and mapped to DetectParams.
// Help texts and defaults stay with each command: `eval` ranks low-score detections on purpose, `detect`
// shows what the server would.
import { parseEps } from '../runtime/ep.ts';
import { TREE_SCORES, type DetectParams, type TreeScores } from '../runtime/types.ts';
import { intOption, numberOption, UsageError } from './errors.ts';

export const threshOption = numberOption('--thresh', 0, 1);
export const nmsOption = numberOption('--nms', 0, 1);
export const hierOption = numberOption('--hier', 0, 1);
export const maxDetOption = (max: number) => intOption('--max-det', 1, max);
export function treeScoresOption(raw: string): TreeScores {
  if (!(TREE_SCORES as readonly string[]).includes(raw)) throw new UsageError(`--tree-scores must be one of ${TREE_SCORES.join(', ')}, got "${raw}"`);
  return raw as TreeScores;
}

/** `--ep cuda,cpu` -> ['cuda', 'cpu']; an unknown provider is a usage error. */
export function epList(raw: string): string[] {
  try {
    return parseEps(raw);
  } catch (e) {
    throw new UsageError(`--ep: ${(e as Error).message}`);
  }
}

/** The detection parameters among parsed flags; a flag not given is left out, so the model's default applies. */
export function detectParams(o: DetectParams): DetectParams {
  const p: DetectParams = { thresh: o.thresh, nms: o.nms, hier: o.hier, maxDet: o.maxDet, classes: o.classes, agnostic: o.agnostic, treeScores: o.treeScores };
  for (const k of Object.keys(p) as Array<keyof DetectParams>) if (p[k] === undefined) delete p[k];
  return p;
}
