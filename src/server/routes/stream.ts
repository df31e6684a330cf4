// GET /v1/stream (WebSocket): binary frames in, one result per processed frame out (see StreamSession).
// Query and model are checked before the upgrade, so a bad request gets a plain HTTP 4xx.
import type { FastifyInstance } from 'fastify';
import type { DetectPlan, ServerRuntime } from '../contract.ts';
import { resultJson, resultProtobuf } from '../frames.ts';
import type { ServerMetrics } from '../metrics.ts';
import { streamQuerySchema, toDetectParams, type StreamQuery } from '../params.ts';
import { StreamSession } from '../stream-session.ts';
import type { StreamTurns } from '../stream-turns.ts';
import { websocketDoc } from '../openapi.ts';

export interface StreamRouteOptions {
  runtime: ServerRuntime;
  metrics: ServerMetrics;
  requestTimeoutMs: number;
  maxBuffered: number;
  /** every stream's frames take turns for the runtime through this */
  turns: StreamTurns;
}

const streamDoc = {
  summary: 'Detection on a stream of frames (WebSocket)',
  operationId: 'stream',
  tags: ['detection'],
  description: 'Upgrade to a WebSocket. Send one binary message per frame: an encoded image (JPEG, PNG, WebP, GIF, '
    + 'TIFF, AVIF) or a protobuf pinhole.Frame (proto/pinhole.proto). The server answers one message per processed frame: '
    + 'the detection response as JSON text plus "frame" (1-based index), "id" (Frame.id) and "dropped", or a '
    + 'protobuf pinhole.Result with format=protobuf. When frames arrive faster than they are processed the newest '
    + 'wins; the count of dropped frames is in every result. A bad frame answers an error result; the stream stays open.',
  querystring: streamQuerySchema,
  response: {
    101: { description: 'Switching Protocols: the WebSocket is open', type: 'null' },
    '4xx': { $ref: 'Error#' },
  },
};

export async function streamRoutes(app: FastifyInstance, opts: StreamRouteOptions): Promise<void> {
  const { runtime, metrics } = opts;
  // resolved once per connection, before the upgrade: a bad query or model is a plain HTTP error
  const plans = new WeakMap<object, DetectPlan>();

  app.route({
    method: 'GET',
    url: '/v1/stream',
    schema: { querystring: streamQuerySchema, hide: true },
    config: { swaggerTransform: websocketDoc(streamDoc) },
    preHandler: async (req) => {
      const q = req.query as StreamQuery;
      const plan = runtime.resolveDetect(q.model, toDetectParams(q));
      req.pinholeModel = plan.model;
      plans.set(req, plan);
    },
    // a plain GET (no Upgrade) reaches this handler; an upgraded one goes to wsHandler
    handler: async (_req, reply) => {
      reply.header('upgrade', 'websocket');
      throw Object.assign(new Error('GET /v1/stream is a WebSocket: send Connection: Upgrade and Upgrade: websocket'), { statusCode: 426 });
    },
    wsHandler: (socket, req) => {
      const q = req.query as StreamQuery;
      const model = req.pinholeModel;
      const plan = plans.get(req)!;
      const session = new StreamSession({
        sink: {
          get bufferedAmount() { return socket.bufferedAmount; },
          get open() { return socket.readyState === socket.OPEN; },
          send: (data) => socket.send(data, { binary: typeof data !== 'string' }),
        },
        detect: (frame) => runtime.runDetect(plan, frame.image, { deadlineMs: Date.now() + opts.requestTimeoutMs }),
        encode: q.format === 'protobuf' ? resultProtobuf : resultJson,
        onOutcome: (outcome) => metrics.streamFrames.inc({ model, outcome }),
        maxBuffered: opts.maxBuffered,
        turns: opts.turns,
      });
      socket.on('message', (data, isBinary) => {
        if (!isBinary) return session.reject('send each frame as a binary message (an encoded image or a pinhole.Frame)');
        const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
        session.push(buf);
      });
      socket.on('close', () => session.close());
    },
  });
}
