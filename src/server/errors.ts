// One error shape for every failure the server answers: {"error": {"code", "message"}}, except where SPEC
// gives a route family its clients' shape (KServe v2: {"error": "<message>"}; DeepStack: {"success": false,
// "error"}). PinholeError carries its own status; Fastify's and its plugins' errors are mapped by their code
// or status so that parse, validation, routing and limit failures read the same as ours. Client mistakes are
// logged at info without a stack (a client must not be able to flood the log with stacks); server faults at
// error with the stack.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PinholeError } from '../errors.ts';
import { logClientError } from './client-log.ts';
import { drainThen } from './drain.ts';

export interface ErrorReply {
  status: number;
  code: string;
  message: string;
  retryAfter?: number;
  /** close the connection after this answer (the request could not be read to its end) */
  close?: boolean;
}

const CODE_BY_STATUS: Record<number, string> = {
  400: 'bad_request',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'unsupported_media_type',
  408: 'request_timeout',
  413: 'too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  426: 'upgrade_required',
  429: 'overloaded',
  431: 'headers_too_large',
  503: 'overloaded',
};

// Fastify/plugin codes whose status alone would be misleading.
const CODE_BY_FASTIFY_CODE: Record<string, { status: number; code: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'too_large' },
  FST_REQ_FILE_TOO_LARGE: { status: 413, code: 'too_large' },
  FST_FILES_LIMIT: { status: 413, code: 'too_large' },
  FST_PARTS_LIMIT: { status: 413, code: 'too_large' },
  FST_FIELDS_LIMIT: { status: 413, code: 'too_large' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { status: 415, code: 'unsupported_media_type' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'bad_request' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'bad_request' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'bad_request' },
  FST_ERR_BAD_URL: { status: 400, code: 'bad_request' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'uri_too_long' },
};

// busboy's own messages for a body it cannot parse (no boundary, truncated, malformed part headers): the
// client's mistake. They carry no code, so they are recognised by text.
const MULTIPART_MISTAKE = /^(Multipart: Boundary not found|Unexpected end of (form|multipart data)|Malformed part header|Unsupported content type)/i;

export function errorReply(err: unknown): ErrorReply {
  if (err instanceof PinholeError) {
    return { status: err.status, code: err.code, message: err.message, retryAfter: err.retryAfter };
  }
  const e = err as Partial<FastifyError> & { validationContext?: string };
  if (e && Array.isArray(e.validation)) {
    const where = e.validationContext ?? 'request';
    return { status: 400, code: where === 'querystring' || where === 'params' ? 'bad_parameter' : 'bad_request', message: e.message ?? 'invalid request' };
  }
  const known = e?.code ? CODE_BY_FASTIFY_CODE[e.code] : undefined;
  if (known) return { ...known, message: e.message ?? known.code };
  if (typeof e?.message === 'string' && MULTIPART_MISTAKE.test(e.message)) {
    return { status: 400, code: 'bad_request', message: `malformed multipart body: ${e.message}` };
  }
  const status = typeof e?.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    return { status, code: CODE_BY_STATUS[status] ?? 'bad_request', message: e.message || 'bad request' };
  }
  if (status === 501) return { status, code: 'not_implemented', message: e.message ?? 'not implemented' };
  if (status === 503) return { status, code: 'overloaded', message: e.message ?? 'service unavailable', retryAfter: 1 };
  // Real faults: the message may hold internals (paths, stack fragments); log it, answer generically.
  return { status: 500, code: 'internal', message: 'internal server error' };
}

export type ErrorShape = 'pinhole' | 'kserve' | 'deepstack';

/** Which documented error body a path answers with (SPEC: the KServe and DeepStack routes keep their clients' shape). */
export function errorShapeFor(url: string): ErrorShape {
  const path = url.split('?')[0];
  if (path === '/v2' || path.startsWith('/v2/')) return 'kserve';
  if (path.startsWith('/v1/vision/')) return 'deepstack';
  return 'pinhole';
}

export function errorBody(shape: ErrorShape, r: Pick<ErrorReply, 'code' | 'message'>): object {
  if (shape === 'kserve') return { error: r.message };
  if (shape === 'deepstack') return { success: false, error: r.message };
  return { error: { code: r.code, message: r.message } };
}

export function sendError(reply: FastifyReply, r: ErrorReply): FastifyReply {
  reply.request.pinholeErrorCode = r.code;
  if (r.retryAfter !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(r.retryAfter))));
  if (r.close) reply.header('connection', 'close');
  // A refused WebSocket upgrade is answered on a socket the HTTP server no longer manages (the upgrade took
  // it over): nothing else will ever close it, not even shutdown.
  if (reply.request.headers.upgrade) {
    reply.header('connection', 'close');
    reply.raw.once('finish', () => reply.raw.socket?.end());
  }
  return reply.code(r.status).type('application/json; charset=utf-8').send(errorBody(errorShapeFor(reply.request.url), r));
}

/** Logs one answered error: client mistakes at info with their code (rate-limited), faults at error with the stack. */
export function logError(log: FastifyRequest['log'], r: ErrorReply, err: unknown): void {
  if (r.status >= 500 && r.code === 'internal') log.error({ err }, 'request failed');
  else logClientError(log, r.status >= 500 ? 'warn' : 'info', { code: r.code, status: r.status }, r.message);
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const r = errorReply(err);
    const cfg = req.routeOptions.config as { accepts?: string; limitBytes?: number } | undefined;
    if (r.status === 413 && cfg?.limitBytes && !(err instanceof PinholeError)) {
      r.message = `the image is over the limit of ${cfg.limitBytes} bytes`;
    } else if (r.status === 413 && (err as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const limit = req.routeOptions.bodyLimit;
      if (limit) r.message = `the request body is over the limit of ${limit} bytes`;
    }
    if (r.status === 415) {
      const accepts = cfg?.accepts;
      r.message = `unsupported content type "${req.headers['content-type'] ?? '(none)'}"${accepts ? `; send ${accepts}` : ''}`;
    }
    logError(req.log, r, err);
    // A body refused before it was read (too large, bad framing) is still on its way: reading it to the end
    // before answering lets the client finish writing and then read the answer (no EPIPE); past a bound the
    // connection is closed instead.
    if (req.raw.complete === false && !reply.raw.headersSent) {
      r.close = true;
      return drainThen(req.raw, () => sendError(reply, r));
    }
    return sendError(reply, r);
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    const allowed = allowedMethods(app, path, req.method);
    if (allowed.length) {
      reply.header('allow', allowed.join(', '));
      return sendError(reply, { status: 405, code: 'method_not_allowed', message: `${req.method} is not allowed on ${path}; use ${allowed.join(' or ')}` });
    }
    return sendError(reply, { status: 404, code: 'not_found', message: `no route ${req.method} ${path}` });
  });
}

// Routes by method, as patterns: /v2/models/:name/infer -> ^/v2/models/[^/]+/infer$ (for 405 + Allow).
const routeTable = new WeakMap<FastifyInstance, Array<{ method: string; re: RegExp }>>();

/** Records every route as it is added; call before the routes are registered. */
export function trackRoutes(app: FastifyInstance): void {
  const table: Array<{ method: string; re: RegExp }> = [];
  routeTable.set(app, table);
  app.addHook('onRoute', (route) => {
    // the CORS plugin's catch-all preflight route (OPTIONS *) says nothing about what a path serves
    if (route.url === '*') return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const re = new RegExp(`^${route.url.split('/').map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')}$`);
    for (const method of methods) table.push({ method, re });
  });
}

function allowedMethods(app: FastifyInstance, path: string, method: string): string[] {
  const table = routeTable.get(app) ?? [];
  return [...new Set(table.filter((r) => r.method !== method && r.re.test(path)).map((r) => r.method))];
}

/** The shared error body schema, for the OpenAPI document. */
export const errorSchema = {
  $id: 'Error',
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const;
