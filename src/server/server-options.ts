// Fastify's own options for the app: validation (strict bodies, coerced query strings), one error shape for
// the errors Fastify and Node's parser answer themselves, connection timeouts, and drain behaviour.
import { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import AjvCompiler from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
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
  /** where the routes' validators and serializers wait to be compiled (warmRoutes) */
  firstUse?: Set<FirstUse>;
}

type Compiled = ((data: unknown) => unknown) & { errors?: unknown };

/** A route's validator or serializer not compiled yet, by the route's URL (warmRoutes compiles it ahead). */
export interface FirstUse {
  readonly url: string;
  compile(): void;
}

/**
 * A route's validator or serializer, compiled when the route first uses it instead of when the app gets
 * ready: compiling every route's schemas with Ajv and fast-json-stringify was ~150 ms of a cold start's
 * main thread (bench/README.md "Cold start"), for routes most servers never see. Ajv reports a failed
 * validation in the function's `errors`, which Fastify reads from the function it holds: copied over.
 * `pending`: where it waits to be compiled, until it is.
 */
export function compiledOnFirstUse(compile: () => Compiled, pending?: Set<FirstUse>, url = ''): Compiled {
  let fn: Compiled | undefined;
  const entry: FirstUse = {
    url,
    compile() {
      fn ??= compile();
      pending?.delete(entry);
    },
  };
  pending?.add(entry);
  const run: Compiled = (data) => {
    if (!fn) entry.compile();
    const out = fn!(data);
    run.errors = fn!.errors;
    return out;
  };
  return run;
}

/**
 * Compiles the validators and serializers of the routes at `urls`, one per turn of the event loop, until
 * `until` settles: `pinhole serve`'s main thread waits for the models anyway, and the first request to
 * such a route then skips ~20-30 ms of Ajv and fast-json-stringify compilation (bench/README.md "The
 * first request"). A schema that fails to compile is left to its route's first use, which reports it.
 */
export async function warmRoutes(pending: Set<FirstUse>, urls: readonly string[], until: Promise<unknown>): Promise<number> {
  let settled = false;
  until.then(() => { settled = true; }, () => { settled = true; });
  let compiled = 0;
  for (const e of [...pending].filter((x) => urls.includes(x.url))) {
    await new Promise((r) => setImmediate(r));
    if (settled) break;
    try {
      e.compile();
      compiled++;
    } catch {
      // its route's first use compiles it again and answers the error
    }
  }
  return compiled;
}

/** Ajv for bodies refuses what it would otherwise coerce ("seed": null -> 0, true -> 1); query strings
 * and params are text, so they keep coercion ("0.5" -> 0.5). Both compile on first use, as do replies. */
function schemaCompilers(pending?: Set<FirstUse>) {
  const pool = AjvCompiler();
  const serializers = SerializerSelector();
  return {
    buildValidator: (external: unknown, opts: { customOptions: object }) => {
      const coercing = pool(external as never, opts as never);
      const strict = pool(external as never, { ...opts, customOptions: { ...opts.customOptions, coerceTypes: false } } as never);
      return (route: { httpPart?: string; url?: string }) =>
        compiledOnFirstUse(() => (route.httpPart === 'body' ? strict : coercing)(route as never) as Compiled, pending, route.url);
    },
    buildSerializer: (external: unknown, opts: unknown) => {
      const build = serializers(external as never, opts as never);
      return (route: { url?: string }) => compiledOnFirstUse(() => build(route as never) as Compiled, pending, route.url);
    },
  };
}

export function serverOptions(o: ConnectionOptions): FastifyServerOptions {
  return {
    logger: o.logger ?? false,
    bodyLimit: 1024 * 1024,
    // Validation must fail on unknown query parameters instead of silently dropping them (a typo like
    // ?threshold=.5 would otherwise be ignored).
    // validateSchema off: checking our own static schemas against JSON Schema's meta-schema cost ~80 ms of
    // every start; a bad schema still fails its route's tests when the route first compiles it.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false, validateSchema: false } },
    schemaErrorFormatter: (errors, dataVar) => new Error(schemaErrorMessage(errors, dataVar)),
    schemaController: { compilersFactory: schemaCompilers(o.firstUse) as never },
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
