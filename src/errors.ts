// Errors that carry their HTTP meaning, thrown anywhere below the server and mapped by it to
// {"error": {"code", "message"}} with the status given here.
export type ErrorCode =
  | 'bad_request'
  | 'bad_image'
  | 'bad_parameter'
  | 'unknown_model'
  | 'forbidden'
  | 'model_not_ready'
  | 'too_large'
  | 'unsupported_media_type'
  | 'overloaded'
  | 'timeout'
  | 'internal';

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  bad_image: 400,
  bad_parameter: 400,
  unknown_model: 404,
  forbidden: 403,
  model_not_ready: 503,
  too_large: 413,
  unsupported_media_type: 415,
  overloaded: 503,
  timeout: 503,
  internal: 500,
};

export class PinholeError extends Error {
  readonly status: number;
  /** seconds, for 429/503 answers */
  readonly retryAfter?: number;
  constructor(readonly code: ErrorCode, message: string, opts: { retryAfter?: number; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.status = STATUS[code];
    this.retryAfter = opts.retryAfter;
  }
}

/**
 * The one assertion helper: throws when `cond` is falsy. `fail` builds the error (a ManifestError, a
 * PinholeError, ...); a plain message throws a plain Error (a fault, not the caller's mistake).
 */
export function need(cond: unknown, fail: string | (() => Error)): asserts cond {
  if (!cond) throw typeof fail === 'string' ? new Error(fail) : fail();
}
