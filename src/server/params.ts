// Query parameters of /v1/detect and /v1/stream: JSON schema (validated by Fastify, shown in /docs) and
// the mapping to the runtime's DetectParams.
import type { FastifyRequest, FastifySchemaValidationError } from 'fastify';
import type { FromSchema } from 'json-schema-to-ts';
import { PinholeError } from '../errors.ts';
import { TREE_SCORES, type DetectParams } from '../runtime/types.ts';

/** One validation error as one line naming the parameter (route validation and body parameters alike). */
export function schemaErrorMessage(errors: FastifySchemaValidationError[], dataVar: string): string {
  const e = errors[0];
  const where = `${dataVar}${e.instancePath ? e.instancePath.replace(/\//g, '.') : ''}`;
  const extra = e.keyword === 'additionalProperties' ? `: unknown parameter "${(e.params as { additionalProperty: string }).additionalProperty}"` : '';
  return `${where} ${e.message}${extra}`;
}

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
 * The query plus the detection parameters sent in the body (multipart fields or JSON properties): checked
 * by the same schema as the query (so `-F thresh=0.9` means what `?thresh=0.9` means, and an unknown field is
 * refused, not ignored). A parameter given in both places is refused: neither obviously wins.
 */
export function withBodyParams(req: FastifyRequest, query: DetectQuery, fields: Record<string, unknown>,
  schema: object = detectQuerySchema): DetectQuery {
  if (Object.keys(fields).length === 0) return query;
  const validate = req.compileValidationSchema(schema);
  const body = { ...fields };
  if (!validate(body)) throw new PinholeError('bad_parameter', schemaErrorMessage(validate.errors ?? [], 'body'));
  const twice = Object.keys(body).find((k) => k in query);
  if (twice) throw new PinholeError('bad_parameter', `parameter "${twice}" given both in the query and in the body`);
  return { ...query, ...body };
}

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
