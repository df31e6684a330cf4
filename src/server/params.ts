// Query parameters of /v1/detect and /v1/stream: JSON schema (validated by Fastify, shown in /docs) and
// the mapping to the runtime's DetectParams.
import type { FromSchema } from 'json-schema-to-ts';
import { TREE_SCORES, type DetectParams } from '../runtime/types.ts';

const unit = (description: string) => ({ type: 'number', minimum: 0, maximum: 1, description }) as const;

export const detectQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    model: { type: 'string', minLength: 1, maxLength: 200, description: 'model name (default: the first ready detector)' },
    thresh: unit('score threshold, default .25'),
    nms: unit('NMS IoU threshold, default per model'),
    hier: unit('YOLO9000 hierarchy threshold; default: the model\'s (model.json "hier"), else .5'),
    max_det: { type: 'integer', minimum: 1, maximum: 100000, description: 'at most this many detections, best first' },
    classes: { type: 'string', pattern: '^\\s*\\d+(\\s*,\\s*\\d+)*\\s*$', description: 'comma list of class ids to keep' },
    agnostic: { type: 'boolean', description: 'class-agnostic NMS' },
    tree_scores: {
      type: 'string', enum: TREE_SCORES,
      description: 'YOLO9000: top (default) = one WordTree node per box scored by objectness; classes = every listed class (every leaf without classes) scored objectness x path probability',
    },
  },
} as const;

export const streamQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...detectQuerySchema.properties,
    format: { type: 'string', enum: ['json', 'protobuf'], description: 'result encoding (default json)' },
  },
} as const;

/** The query as Fastify hands it over once the schema has validated (and coerced) it. */
export type DetectQuery = FromSchema<typeof detectQuerySchema>;
export type StreamQuery = FromSchema<typeof streamQuerySchema>;

/**
 * The query as DetectParams. Syntax only (the schema has checked types, ranges and the shape of
 * `classes`); what depends on the model is checked once, by the runtime's door.
 */
export function toDetectParams(q: DetectQuery): DetectParams {
  const p: DetectParams = {};
  if (q.thresh !== undefined) p.thresh = q.thresh;
  if (q.nms !== undefined) p.nms = q.nms;
  if (q.hier !== undefined) p.hier = q.hier;
  if (q.max_det !== undefined) p.maxDet = q.max_det;
  if (q.agnostic !== undefined) p.agnostic = q.agnostic;
  if (q.tree_scores !== undefined) p.treeScores = q.tree_scores;
  if (q.classes !== undefined) p.classes = [...new Set(q.classes.split(',').map((s) => Number(s.trim())))];
  return p;
}
