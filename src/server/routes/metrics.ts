// GET /metrics: Prometheus text exposition.
import type { FastifyInstance } from 'fastify';
import type { ServerMetrics } from '../metrics.ts';

export async function metricsRoutes(app: FastifyInstance, opts: { metrics: ServerMetrics }): Promise<void> {
  const { registry } = opts.metrics;
  app.get('/metrics', {
    schema: {
      summary: 'Prometheus metrics',
      operationId: 'metrics',
      tags: ['ops'],
      response: {
        200: {
          description: 'Prometheus text exposition format 0.0.4',
          content: { 'text/plain': { schema: { type: 'string' } } },
        },
      },
    },
  }, async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
}
