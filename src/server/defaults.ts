// The HTTP server's default limits, in a module of their own: `pinhole serve` prints them in its --help and
// parses its flags before it loads Fastify and the routes (which it does while the inference workers start).
import { INFER_CAPS } from './kserve-caps.ts';

export const DEFAULTS = {
  bodyLimit: 16 * 1024 * 1024,
  inferBodyLimit: 64 * 1024 * 1024,
  requestTimeoutMs: 30_000,
  maxInFlight: 128,
  inferMaxBatch: INFER_CAPS.maxBatch,
  inferMaxOutputValues: INFER_CAPS.maxOutputValues,
  streamMaxBuffered: 1024 * 1024,
  headersTimeoutMs: 10_000,
  // 16 MiB at 1 Mbit/s takes ~130 s: a slow but honest uploader still fits, a stalled one is cut
  uploadTimeoutMs: 180_000,
  idleTimeoutMs: 30_000,
  // above the common load balancers' idle timeouts (60 s), so the balancer closes first
  keepAliveTimeoutMs: 72_000,
};
