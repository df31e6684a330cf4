// GET /v1/models: every model folder the runtime found, with its state (a broken one carries its error).
import type { FastifyInstance } from 'fastify';
import type { ModelInfo } from '../../runtime/types.ts';
import type { ServerRuntime } from '../contract.ts';

export function publicModel(m: ModelInfo) {
  // `dir` stays out: a server path is nobody's business but the operator's.
  return {
    name: m.name,
    kind: m.kind,
    status: m.status,
    ready: m.status === 'ready',
    error: m.error,
    input: m.input,
    classes: m.classes,
    ep: m.ep,
    max_batch: m.maxBatch,
    winograd: m.winograd,
    source: m.source,
    metrics: m.metrics,
  };
}

export async function modelRoutes(app: FastifyInstance, opts: { runtime: ServerRuntime }): Promise<void> {
  app.get('/v1/models', {
    schema: {
      summary: 'List models',
      operationId: 'listModels',
      tags: ['models'],
      response: { 200: { $ref: 'ModelList#' } },
    },
  }, async () => ({ models: opts.runtime.models().map(publicModel) }));
}
