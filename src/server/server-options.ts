// Fastify's own options for the app: validation (strict bodies, coerced query strings), one error shape for
// the errors Fastify and Node's parser answer themselves, connection timeouts, and drain behaviour.
import { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import AjvCompiler from '@fastify/ajv-compiler';
import { clientErrorHandler } from './client-errors.ts';
import { errorReply, logError, sendError } from './errors.ts';
import { schemaErrorMessage } from './params.ts';

export interface ConnectionOptions {
  logger?: FastifyServerOptions['logger'];
  requestLogging?: boolean;
  headersTimeoutMs: number;
  uploadTimeoutMs: number;
  idleTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

/** Ajv for bodies refuses what it would otherwise coerce ("seed": null -> 0, true -> 1); query strings
 * and params are text, so they keep coercion ("0.5" -> 0.5). */
function validatorCompilers() {
  const pool = AjvCompiler();
  return {
    buildValidator: (external: unknown, opts: { customOptions: object }) => {
      const coercing = pool(external as never, opts as never);
      const strict = pool(external as never, { ...opts, customOptions: { ...opts.customOptions, coerceTypes: false } } as never);
      return (route: { httpPart?: string }) => (route.httpPart === 'body' ? strict : coercing)(route as never);
    },
  };
}

export function serverOptions(o: ConnectionOptions): FastifyServerOptions {
  return {
    logger: o.logger ?? false,
    bodyLimit: 1024 * 1024,
    // Validation must fail on unknown query parameters instead of silently dropping them (a typo like
    // ?threshold=.5 would otherwise be ignored).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
    schemaErrorFormatter: (errors, dataVar) => new Error(schemaErrorMessage(errors, dataVar)),
    schemaController: { compilersFactory: validatorCompilers() as never },
    forceCloseConnections: 'idle',
    // requests arriving while draining are answered by the guard in our shape (with Retry-After)
    return503OnClosing: false,
    logController: new LogController({ disableRequestLogging: !o.requestLogging }),
    requestTimeout: o.uploadTimeoutMs,
    connectionTimeout: o.idleTimeoutMs,
    keepAliveTimeout: o.keepAliveTimeoutMs,
    // Node checks the header/request timeouts on this period (30 s by default, far coarser than the limits)
    http: {
      headersTimeout: Math.min(o.headersTimeoutMs, o.uploadTimeoutMs),
      requestTimeout: o.uploadTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(Math.min(o.headersTimeoutMs, o.uploadTimeoutMs) / 10))),
    } as never,
    // bad URL encoding and over-long path parameters, which Fastify otherwise answers in its own shape
    frameworkErrors: (err, req, reply) => {
      const r = errorReply(err);
      logError(req.log, r, err);
      return sendError(reply, r);
    },
    clientErrorHandler: function (this: FastifyInstance, err, socket) { clientErrorHandler(() => this.log)(err as never, socket); },
  } as FastifyServerOptions;
}
