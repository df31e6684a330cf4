// The Fastify application: plugins for docs, websocket and each route group, one error shape, metrics hooks.
// The runtime is a dependency (any ServerRuntime), so the HTTP layer is testable on its own.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import type { ServerRuntime } from './contract.ts';
import { Admission } from './admission.ts';
import { idleSocketHandler } from './client-errors.ts';
import { errorSchema, installErrorHandling, trackRoutes } from './errors.ts';
import { installGuards } from './guards.ts';
import { defaultPolicy, type OriginPolicy } from './origin.ts';
import { serverOptions, type FirstUse } from './server-options.ts';
import { createMetrics, type ServerMetrics } from './metrics.ts';
import { detectionResponseSchema, kserveErrorSchema, modelListSchema, v2InferRequestSchema, v2InferResponseSchema, v2ModelMetadataSchema } from './schemas.ts';
import { detectRoutes } from './routes/detect.ts';
import { modelRoutes } from './routes/models.ts';
import { kserveRoutes } from './routes/kserve.ts';
import { DEFAULTS } from './defaults.ts';
import { generateRoutes } from './routes/generate.ts';
import { streamRoutes } from './routes/stream.ts';
import { StreamTurns } from './stream-turns.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { consoleRoutes } from './routes/console.ts';
import { registerCors } from './cors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** the model a request resolved to ('' until then); the `model` label of pinhole_requests_total */
    pinholeModel: string;
    /** the error code of the answer ('' unless it failed); the `code`/`reason` of pinhole_request_failures_total */
    pinholeErrorCode: string;
  }
  interface FastifyInstance {
    /** shutdown has begun: new requests get 503 + Connection: close + Retry-After, answers close their socket */
    pinholeDrain: { draining: boolean; start(): void };
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
  /** requests running a model at once (detect, infer, generate, sample), counted once their body has arrived; more get 503 + Retry-After */
  maxInFlight?: number;
  /** KServe infer: largest batch per request */
  inferMaxBatch?: number;
  /** KServe infer: most values an answer may hold */
  inferMaxOutputValues?: number;
  /** bytes a stream socket may hold unsent before the server stops starting new frames for it */
  streamMaxBuffered?: number;
  /**
   * stream frames in the runtime at once over every stream (decoding, queued or running), handed out round
   * robin; default: the inference workers + 1, one frame decoding while each worker runs one (stream-turns.ts)
   */
  streamInFlight?: number;
  /** the request line and headers must have arrived by then (slow-header clients are cut with 408) */
  headersTimeoutMs?: number;
  /** the whole request, body included, must have arrived by then (slow uploads are cut with 408) */
  uploadTimeoutMs?: number;
  /** a connection with no traffic for this long while a request is open is closed */
  idleTimeoutMs?: number;
  /** an idle keep-alive connection is closed after this long */
  keepAliveTimeoutMs?: number;
  /** browser pages (Origin) and Host names the server answers; default: loopback Hosts, same-origin pages */
  originPolicy?: OriginPolicy;
  /** the model behind /v1/vision/face; default: the detector whose one class is "face" */
  faceModel?: string;
  /** filled with the routes' validators and serializers not compiled yet (server-options.ts warmRoutes) */
  firstUse?: Set<FirstUse>;
}

export { DEFAULTS } from './defaults.ts';
export { warmRoutes } from './server-options.ts';

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as Required<AppOptions>;
  const metrics = opts.metrics ?? createMetrics();
  const { runtime } = o;
  let accepting = true;

  const app = Fastify(serverOptions(o));
  app.server.on('timeout', idleSocketHandler(() => app.log));
  app.decorateRequest('pinholeModel', '');
  app.decorateRequest('pinholeErrorCode', '');
  trackRoutes(app);
  installErrorHandling(app);
  const policy = opts.originPolicy ?? defaultPolicy('127.0.0.1');
  installGuards(app, policy);

  for (const s of [errorSchema, kserveErrorSchema, detectionResponseSchema, modelListSchema, v2InferRequestSchema, v2InferResponseSchema, v2ModelMetadataSchema]) {
    app.addSchema(s);
  }

  app.addHook('onResponse', async (req, reply) => {
    metrics.observeRequest({ model: req.pinholeModel, route: req.routeOptions.url ?? 'unmatched', status: reply.statusCode,
      seconds: reply.elapsedTime / 1000, code: req.pinholeErrorCode || undefined });
  });
  app.addHook('preClose', async () => { accepting = false; app.pinholeDrain.start(); });

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
        license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' },
      },
      // Relative: the document is served by the server it describes, wherever that is mounted.
      servers: [{ url: '/', description: 'this server' }],
      // No authentication: Pinhole is meant to sit behind the operator's proxy or network policy. An empty
      // requirement list says so explicitly (rather than leaving security undefined).
      security: [],
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  // CORS answers for the same Origin allow-list the guards apply to WebSocket upgrades and multipart posts
  await registerCors(app, policy);
  await app.register(websocket, {
    options: { maxPayload: o.bodyLimit },
    // 1001 "going away" tells a client to reconnect elsewhere; the plugin's default close sends no code (1005)
    preClose(this: FastifyInstance, done: () => void) {
      for (const client of this.websocketServer.clients) client.close(1001, 'server shutting down');
      // not waiting for the clients' close frames: ws ends a silent peer's socket itself after its close timeout
      this.websocketServer.close();
      done();
    },
  });

  const admission = new Admission({ maxInFlight: o.maxInFlight, requestTimeoutMs: o.requestTimeoutMs });
  await app.register(detectRoutes, { runtime, bodyLimit: o.bodyLimit, admission, faceModel: opts.faceModel });
  await app.register(modelRoutes, { runtime });
  // prefixed: /v2 is the protocol's namespace (server metadata is GET /v2 itself)
  await app.register(kserveRoutes, {
    prefix: '/v2', runtime, bodyLimit: o.inferBodyLimit, accepting: () => accepting && !app.pinholeDrain.draining, admission,
    caps: { maxBatch: o.inferMaxBatch, maxOutputValues: o.inferMaxOutputValues },
  });
  await app.register(generateRoutes, { runtime, admission });
  const turns = new StreamTurns(opts.streamInFlight ?? (runtime.threads?.workers ?? 1) + 1);
  await app.register(streamRoutes, { runtime, metrics, requestTimeoutMs: o.requestTimeoutMs, maxBuffered: o.streamMaxBuffered, turns });
  await app.register(metricsRoutes, { metrics });
  await app.register(consoleRoutes);
  return app;
}
