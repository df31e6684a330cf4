// GET /metrics: Prometheus text exposition.
import type { FastifyInstance } from 'fastify';
import type { ServerMetrics } from '../metrics.ts';

export async function metricsRoutes(app: FastifyInstance, opts: { metrics: ServerMetrics }): Promise<void> {
  const { registry } = opts.metrics;
  app.get('/metrics', {
    schema: { summary: 'Prometheus metrics', tags: ['ops'], response: { 200: { type: 'string' } } },
  }, async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
}
