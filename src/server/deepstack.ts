// DeepStack / CodeProject.AI compatibility: which model a vision route means, what `min_confidence` means,
// and the answer as those clients read it (integer pixels, best first).
import { PinholeError } from '../errors.ts';
import type { DetectionResponse, ModelInfo } from '../runtime/types.ts';
import type { ServerRuntime } from './contract.ts';
import { DETECTOR_KINDS } from '../manifest.ts';

export interface Prediction {
  label?: string;
  confidence: number;
  x_min: number;
  y_min: number;
  x_max: number;
  y_max: number;
}

/**
 * The detections as DeepStack predictions: integer pixels inside the image, sorted by confidence, best first
 * (Frigate's deepstack detector stops reading at the first prediction under its own threshold, so order
 * matters). The face route leaves `label` out, as DeepStack's face detection does.
 */
export function toPredictions(r: DetectionResponse, withLabel: boolean): Prediction[] {
  const { width, height } = r.image;
  const px = (v: number, max: number) => Math.min(max, Math.max(0, Math.round(v)));
  return [...r.detections]
    .sort((a, b) => b.score - a.score)
    .map((d) => ({
      ...(withLabel ? { label: d.class } : {}),
      confidence: d.score,
      x_min: px(d.box.x1, width),
      y_min: px(d.box.y1, height),
      x_max: px(d.box.x2, width),
      y_max: px(d.box.y2, height),
    }));
}

const isDetector = (m: ModelInfo) => (DETECTOR_KINDS as readonly string[]).includes(m.kind ?? '');
const isFaceModel = (m: ModelInfo) => isDetector(m) && m.names?.length === 1 && m.names[0].toLowerCase() === 'face';

/**
 * The model behind /v1/vision/face: the one `--face-model` names, else the detector whose only class is
 * "face" (a ready one first, then by name). None: the route answers 404 in DeepStack's failure shape.
 */
export function faceModelName(runtime: ServerRuntime, configured: string | undefined): string {
  if (configured !== undefined) return configured;
  const faces = runtime.models().filter(isFaceModel).sort((a, b) => a.name.localeCompare(b.name));
  const pick = faces.find((m) => m.status === 'ready') ?? faces[0];
  if (!pick) {
    throw new PinholeError('unknown_model', 'no face model is loaded: add a detector folder whose model.json names the single class "face" '
      + '(e.g. models/tiny-face), or name one with --face-model');
  }
  return pick.name;
}

/**
 * `min_confidence` from the form (or JSON body) or the query, at most once. Absent: the model's own default
 * threshold, not DeepStack's 0.4, because each model's default is the one chosen for it (its held-out
 * evaluation or its upstream default), while 0.4 was chosen for DeepStack's own networks; every client seen
 * (Home Assistant, Frigate, Blue Iris) either sends it or filters on its own threshold.
 */
export function minConfidence(fromQuery: number | undefined, fields: Record<string, unknown>): number | undefined {
  const raw = fields.min_confidence;
  if (raw !== undefined && fromQuery !== undefined) throw new PinholeError('bad_parameter', 'min_confidence given both in the query and in the body');
  if (raw === undefined) return fromQuery;
  const v = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!(v >= 0 && v <= 1)) throw new PinholeError('bad_parameter', `min_confidence must be a number in [0, 1], got "${String(raw)}"`);
  return v;
}

/**
 * The body fields DeepStack clients send. `api_key` is accepted and not checked: Pinhole has no API keys
 * (Home Assistant's and Frigate's clients always send one, empty by default). Anything else is refused.
 */
export const DEEPSTACK_FIELDS = ['min_confidence', 'api_key'];

export function checkFields(fields: Record<string, unknown>): void {
  const unknown = Object.keys(fields).find((k) => !DEEPSTACK_FIELDS.includes(k));
  if (unknown) throw new PinholeError('bad_parameter', `unknown field "${unknown}" (this route takes image, ${DEEPSTACK_FIELDS.join(', ')})`);
}
