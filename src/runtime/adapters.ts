// What the batcher hands a batch to: per loaded model, one adapter per kind of job. Detection jobs
// batch up to the model's batch size; raw-tensor inference (KServe infer, the generators) runs alone.
import type { Detection } from '../vision/types.ts';
import type { Adapter } from './batcher.ts';
import type { DetectJob } from './protocol.ts';
import type { LoadedModel, Sessions } from './sessions.ts';
import type { RawTensor } from './types.ts';

export type Tensors = Record<string, RawTensor>;

export interface ModelAdapters {
  /** detectors only */
  detection?: Adapter<DetectJob, Detection[]>;
  inference: Adapter<Tensors, Tensors>;
}

export function adaptersFor(sessions: Sessions, model: LoadedModel, isDetector: boolean): ModelAdapters {
  const inference: Adapter<Tensors, Tensors> = {
    maxBatch: 1,
    async run(worker, jobs) {
      const r = await sessions.runInfer(worker, model, jobs[0]);
      return { results: [r.outputs], inferMs: r.inferMs, postMs: 0 };
    },
  };
  if (!isDetector) return { inference };
  const detection: Adapter<DetectJob, Detection[]> = {
    maxBatch: model.maxBatch,
    batchDelayMs: model.batchDelayMs,
    // read at each dispatch: a solo session made after the server listens (rampUp) serves from then on
    get solo() { return model.solo; },
    async run(worker, jobs, solo) {
      const r = await sessions.runDetect(worker, model, jobs, solo);
      return { results: r.detections, inferMs: r.inferMs, postMs: r.postMs };
    },
  };
  return { detection, inference };
}
