// One error shape for every failure the server answers: {"error": {"code", "message"}}.
// PinholeError carries its own status; Fastify's and its plugins' errors are mapped by their status code
// so that parse, validation and limit failures read the same as ours.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PinholeError } from '../errors.ts';

export interface ErrorReply {
  status: number;
  code: string;
  message: string;
  retryAfter?: number;
}

const CODE_BY_STATUS: Record<number, string> = {
  400: 'bad_request',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'unsupported_media_type',
  413: 'too_large',
  415: 'unsupported_media_type',
  429: 'overloaded',
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
};

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
  const status = typeof e?.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    return { status, code: CODE_BY_STATUS[status] ?? 'bad_request', message: e.message ?? 'bad request' };
  }
  if (status === 501) return { status, code: 'not_implemented', message: e.message ?? 'not implemented' };
  if (status === 503) return { status, code: 'overloaded', message: e.message ?? 'service unavailable', retryAfter: 1 };
  // Real faults: the message may hold internals (paths, stack fragments); log it, answer generically.
  return { status: 500, code: 'internal', message: 'internal server error' };
}

export function sendError(reply: FastifyReply, r: ErrorReply): FastifyReply {
  reply.request.pinholeErrorCode = r.code;
  if (r.retryAfter !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(r.retryAfter))));
  return reply.code(r.status).type('application/json; charset=utf-8').send({ error: { code: r.code, message: r.message } });
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const r = errorReply(err);
    const cfg = req.routeOptions.config as { accepts?: string; limitBytes?: number } | undefined;
    if (r.status === 413 && cfg?.limitBytes && !(err instanceof PinholeError)) {
      r.message = `the image is over the limit of ${cfg.limitBytes} bytes`;
    }
    if (r.status === 415) {
      const accepts = cfg?.accepts;
      r.message = `unsupported content type "${req.headers['content-type'] ?? '(none)'}"${accepts ? `; send ${accepts}` : ''}`;
    }
    if (r.status >= 500 && r.code === 'internal') req.log.error({ err }, 'request failed');
    else req.log.debug({ code: r.code, status: r.status }, r.message);
    return sendError(reply, r);
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, { status: 404, code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` }));
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
