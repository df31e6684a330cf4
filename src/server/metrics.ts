// Prometheus metrics (names fixed by SPEC.md). The runtime reports through RuntimeObserver hooks and
// never imports prom-client; the HTTP and stream layers report through observeRequest and streamFrames.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RuntimeObserver } from '../runtime/types.ts';
import { VERSION } from '../version.ts';

export type StreamOutcome = 'processed' | 'dropped' | 'error';

/** One answered HTTP request. */
export interface RequestObservation {
  /** the model the request resolved to, '' when none */
  model: string;
  /** the route pattern (e.g. /v2/models/:name/infer), 'unmatched' for 404s without a route */
  route: string;
  status: number;
  seconds: number;
  /** the error code the answer carried (ErrorCode or a mapped Fastify one), when it failed */
  code?: string;
}

export interface ServerMetrics {
  registry: Registry;
  /** hand this to the runtime at creation */
  observer: RuntimeObserver;
  requests: Counter<'model' | 'route' | 'status'>;
  requestDuration: Histogram<'model' | 'route'>;
  streamFrames: Counter<'model' | 'outcome'>;
  /** records a request in every request series at once */
  observeRequest(o: RequestObservation): void;
}

/**
 * Why a request failed, coarse enough to alert on: the cause, not the status (503 is overloaded,
 * timeout or not ready, which call for different actions). Unknown codes fall back to the status.
 */
export function failureReason(status: number, code?: string): string {
  switch (code) {
    case 'bad_image': case 'bad_parameter': case 'bad_request': case 'method_not_allowed': return 'bad_input';
    case 'unknown_model': return 'unknown_model';
    case 'not_found': return 'not_found';
    case 'model_not_ready': return 'not_ready';
    case 'too_large': return 'too_large';
    case 'unsupported_media_type': return 'unsupported_media_type';
    case 'overloaded': return 'overloaded';
    case 'timeout': return 'timeout';
    case 'internal': case 'not_implemented': return 'internal';
  }
  if (status === 404) return 'not_found';
  if (status === 413) return 'too_large';
  if (status === 415) return 'unsupported_media_type';
  if (status === 429 || status === 503) return 'overloaded';
  if (status === 504) return 'timeout';
  return status >= 500 ? 'internal' : 'bad_input';
}

const REDUNDANT_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64];

/** The series the runtime reports through its observer hooks (batches, queue depth, model status). */
function runtimeObserver(registers: Registry[]): RuntimeObserver {
  const perModel = { labelNames: ['model'] as const, registers };
  const queueDuration = new Histogram({
    name: 'pinhole_queue_duration_seconds',
    help: 'Time a request waited in the batcher queue before its batch started',
    buckets: LATENCY_BUCKETS,
    ...perModel,
  });
  const inferenceDuration = new Histogram({
    name: 'pinhole_inference_duration_seconds',
    help: 'ONNX Runtime time per batch',
    buckets: LATENCY_BUCKETS,
    ...perModel,
  });
  const batchSize = new Histogram({ name: 'pinhole_batch_size', help: 'Images per executed batch', buckets: BATCH_BUCKETS, ...perModel });
  const inferences = new Counter({
    name: 'pinhole_inference_total',
    help: 'Images inferred (average batch = pinhole_inference_total / pinhole_execution_total)',
    ...perModel,
  });
  const executions = new Counter({ name: 'pinhole_execution_total', help: 'Batches executed', ...perModel });
  const queueDepth = new Gauge({ name: 'pinhole_queue_depth', help: 'Requests waiting in the batcher queue', ...perModel });
  const modelReady = new Gauge({
    name: 'pinhole_model_ready',
    help: '1 when the model is loaded and serving, 0 when loading or failed',
    ...perModel,
  });
  return {
    onBatch(e) {
      const l = { model: e.model };
      batchSize.observe(l, e.size);
      inferences.inc(l, e.size);
      executions.inc(l);
      inferenceDuration.observe(l, e.inferSeconds);
      for (const q of e.queueSeconds) queueDuration.observe(l, q);
    },
    onQueueDepth(model, depth) {
      queueDepth.set({ model }, depth);
    },
    onModelStatus(info) {
      modelReady.set({ model: info.name }, info.status === 'ready' ? 1 : 0);
    },
  };
}

/** The HTTP request series: count by status, duration, and outcome (success, or failure by reason). */
function requestSeries(registers: Registry[]): Pick<ServerMetrics, 'requests' | 'requestDuration' | 'observeRequest'> {
  const requests = new Counter({
    name: 'pinhole_requests_total',
    help: 'HTTP requests answered, by model, route and status code',
    labelNames: ['model', 'route', 'status'] as const,
    registers,
  });
  const successes = new Counter({
    name: 'pinhole_request_successes_total',
    help: 'HTTP requests answered with a status below 400, by model and route',
    labelNames: ['model', 'route'] as const,
    registers,
  });
  const failures = new Counter({
    name: 'pinhole_request_failures_total',
    help: 'HTTP requests answered with an error, by model, route, reason (bad_input, unknown_model, not_found, '
      + 'not_ready, too_large, unsupported_media_type, overloaded, timeout, internal) and the error code',
    labelNames: ['model', 'route', 'reason', 'code'] as const,
    registers,
  });
  const requestDuration = new Histogram({
    name: 'pinhole_request_duration_seconds',
    help: 'Time from request received to response sent, by model and route',
    labelNames: ['model', 'route'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  function observeRequest({ model, route, status, seconds, code }: RequestObservation): void {
    requests.inc({ model, route, status: String(status) });
    requestDuration.observe({ model, route }, seconds);
    if (status < 400) successes.inc({ model, route });
    else failures.inc({ model, route, reason: failureReason(status, code), code: code ?? '' });
  }
  return { requests, requestDuration, observeRequest };
}

export function createMetrics(opts: { defaults?: boolean } = {}): ServerMetrics {
  const registry = new Registry();
  if (opts.defaults !== false) {
    collectDefaultMetrics({ register: registry });
    // prom-client exports these three sums as gauges named *_total, which Prometheus reserves for
    // counters (promtool check metrics fails on them); each is the sum of the per-type gauge without
    // the suffix (nodejs_active_handles etc.), so nothing is lost.
    for (const name of REDUNDANT_DEFAULTS) registry.removeSingleMetric(name);
  }
  const registers = [registry];
  const streamFrames = new Counter({
    name: 'pinhole_stream_frames_total',
    help: 'WebSocket stream frames by outcome: processed, dropped (a newer frame replaced it), error',
    labelNames: ['model', 'outcome'] as const,
    registers,
  });
  const buildInfo = new Gauge({
    name: 'pinhole_build_info',
    help: 'Always 1; the labels say which pinhole and Node.js this process runs',
    labelNames: ['version', 'node'] as const,
    registers,
  });
  buildInfo.set({ version: VERSION, node: process.versions.node }, 1);
  return { registry, observer: runtimeObserver(registers), streamFrames, ...requestSeries(registers) };
}
