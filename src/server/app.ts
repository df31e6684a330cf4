// The Fastify application: plugins for docs, websocket and each route group, one error shape, metrics hooks.
// The runtime is a dependency (any ServerRuntime), so the HTTP layer is testable on its own.
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import type { ServerRuntime } from './contract.ts';
import { errorSchema, installErrorHandling } from './errors.ts';
import { createMetrics, type ServerMetrics } from './metrics.ts';
import { detectionResponseSchema, modelListSchema, v2InferRequestSchema, v2InferResponseSchema, v2ModelMetadataSchema } from './schemas.ts';
import { detectRoutes } from './routes/detect.ts';
import { modelRoutes } from './routes/models.ts';
import { kserveRoutes } from './routes/kserve.ts';
import { generateRoutes } from './routes/generate.ts';
import { streamRoutes } from './routes/stream.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { consoleRoutes } from './routes/console.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** the model a request resolved to ('' until then); the `model` label of pinhole_requests_total */
    pinholeModel: string;
    /** the error code of the answer ('' unless it failed); the `code`/`reason` of pinhole_request_failures_total */
    pinholeErrorCode: string;
  }
}

export interface AppOptions {
  runtime: ServerRuntime;
  /** pass the same object whose `observer` the runtime reports to; created here if absent */
  metrics?: ServerMetrics;
  logger?: FastifyServerOptions['logger'];
  /** one log line per request (Fastify's default); off by default */
  requestLogging?: boolean;
  /** largest image accepted, bytes (raw, multipart, decoded base64, stream frame) */
  bodyLimit?: number;
  /** largest KServe v2 JSON body, bytes */
  inferBodyLimit?: number;
  /** a request not answered by then leaves the queue with 503 */
  requestTimeoutMs?: number;
  /** /v1/detect requests admitted at once; more get 503 + Retry-After before their body is read */
  maxInFlight?: number;
  /** bytes a stream socket may hold unsent before the server stops starting new frames for it */
  streamMaxBuffered?: number;
}

export const DEFAULTS = {
  bodyLimit: 16 * 1024 * 1024,
  inferBodyLimit: 64 * 1024 * 1024,
  requestTimeoutMs: 30_000,
  maxInFlight: 128,
  streamMaxBuffered: 1024 * 1024,
};

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as Required<AppOptions>;
  const metrics = opts.metrics ?? createMetrics();
  const { runtime } = o;
  let accepting = true;

  const app = Fastify({
    logger: o.logger ?? false,
    bodyLimit: 1024 * 1024,
    // Validation must fail on unknown query parameters instead of silently dropping them (a typo like
    // ?threshold=.5 would otherwise be ignored).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
    schemaErrorFormatter: (errors, dataVar) => {
      const e = errors[0];
      const where = `${dataVar}${e.instancePath ? e.instancePath.replace(/\//g, '.') : ''}`;
      const extra = e.keyword === 'additionalProperties' ? `: unknown parameter "${(e.params as { additionalProperty: string }).additionalProperty}"` : '';
      return new Error(`${where} ${e.message}${extra}`);
    },
    forceCloseConnections: 'idle',
    logController: new LogController({ disableRequestLogging: !o.requestLogging }),
  });
  app.decorateRequest('pinholeModel', '');
  app.decorateRequest('pinholeErrorCode', '');
  installErrorHandling(app);

  for (const s of [errorSchema, detectionResponseSchema, modelListSchema, v2InferRequestSchema, v2InferResponseSchema, v2ModelMetadataSchema]) {
    app.addSchema(s);
  }

  app.addHook('onResponse', async (req, reply) => {
    metrics.observeRequest({ model: req.pinholeModel, route: req.routeOptions.url ?? 'unmatched', status: reply.statusCode,
      seconds: reply.elapsedTime / 1000, code: req.pinholeErrorCode || undefined });
  });
  app.addHook('preClose', async () => { accepting = false; });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Pinhole',
        version: '0.1.0',
        description: 'Real-time object detection (YOLOv1, YOLOv2, YOLO9000) and image generation on ONNX Runtime. '
          + 'Errors are {"error": {"code", "message"}}. The WebSocket stream GET /v1/stream (query model, thresh, nms, '
          + 'format=json|protobuf) takes binary frames (an encoded image or a pinhole.Frame) and answers one result per '
          + 'processed frame; when frames come faster than they are processed, the newest wins and the count of '
          + 'dropped frames is reported in every result.',
      },
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(websocket, { options: { maxPayload: o.bodyLimit } });

  await app.register(detectRoutes, { runtime, bodyLimit: o.bodyLimit, requestTimeoutMs: o.requestTimeoutMs, maxInFlight: o.maxInFlight });
  await app.register(modelRoutes, { runtime });
  await app.register(kserveRoutes, { runtime, bodyLimit: o.inferBodyLimit, accepting: () => accepting });
  await app.register(generateRoutes, { runtime });
  await app.register(streamRoutes, { runtime, metrics, requestTimeoutMs: o.requestTimeoutMs, maxBuffered: o.streamMaxBuffered });
  await app.register(metricsRoutes, { metrics });
  await app.register(consoleRoutes);
  return app;
}
