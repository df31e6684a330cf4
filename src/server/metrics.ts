// Prometheus metrics (names fixed by SPEC.md). The runtime reports through RuntimeObserver hooks and
// never imports prom-client; the HTTP and stream layers update the request/stream series directly.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RuntimeObserver } from '../runtime/types.ts';

export type StreamOutcome = 'processed' | 'dropped' | 'error';

export interface ServerMetrics {
  registry: Registry;
  /** hand this to the runtime at creation */
  observer: RuntimeObserver;
  requests: Counter<'model' | 'route' | 'status'>;
  requestDuration: Histogram<'route'>;
  streamFrames: Counter<'model' | 'outcome'>;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64];

/** The series the runtime reports through its observer hooks (batches, queue depth, model status). */
function runtimeObserver(registers: Registry[]): RuntimeObserver {
  const queueDuration = new Histogram({
    name: 'pinhole_queue_duration_seconds',
    help: 'Time a request waited in the batcher queue before its batch started',
    labelNames: ['model'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const inferenceDuration = new Histogram({
    name: 'pinhole_inference_duration_seconds',
    help: 'ONNX Runtime time per batch',
    labelNames: ['model'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const batchSize = new Histogram({
    name: 'pinhole_batch_size',
    help: 'Images per executed batch',
    labelNames: ['model'] as const,
    buckets: BATCH_BUCKETS,
    registers,
  });
  const inferenceCount = new Counter({
    name: 'pinhole_inference_count',
    help: 'Images inferred (average batch = pinhole_inference_count / pinhole_execution_count)',
    labelNames: ['model'] as const,
    registers,
  });
  const executionCount = new Counter({
    name: 'pinhole_execution_count',
    help: 'Batches executed',
    labelNames: ['model'] as const,
    registers,
  });
  const queueDepth = new Gauge({
    name: 'pinhole_queue_depth',
    help: 'Requests waiting in the batcher queue',
    labelNames: ['model'] as const,
    registers,
  });
  const modelReady = new Gauge({
    name: 'pinhole_model_ready',
    help: '1 when the model is loaded and serving, 0 when loading or failed',
    labelNames: ['model'] as const,
    registers,
  });

  return {
    onBatch(e) {
      const l = { model: e.model };
      batchSize.observe(l, e.size);
      inferenceCount.inc(l, e.size);
      executionCount.inc(l);
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

export function createMetrics(opts: { defaults?: boolean } = {}): ServerMetrics {
  const registry = new Registry();
  if (opts.defaults !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const requests = new Counter({
    name: 'pinhole_requests_total',
    help: 'HTTP requests answered, by model, route and status code',
    labelNames: ['model', 'route', 'status'] as const,
    registers,
  });
  const requestDuration = new Histogram({
    name: 'pinhole_request_duration_seconds',
    help: 'Time from request received to response sent',
    labelNames: ['route'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const observer = runtimeObserver(registers);
  const streamFrames = new Counter({
    name: 'pinhole_stream_frames_total',
    help: 'WebSocket stream frames by outcome: processed, dropped (a newer frame replaced it), error',
    labelNames: ['model', 'outcome'] as const,
    registers,
  });
  return { registry, observer, requests, requestDuration, streamFrames };
}
