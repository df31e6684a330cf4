// Messages between the runtime (main thread) and its inference workers. Tensors travel as typed
// arrays whose buffers are transferred, never copied.
import type { ErrorCode } from '../errors.ts';
import type { Manifest } from '../manifest.ts';
import type { EpAttempt, EpName } from './ep.ts';
import type { Detection } from '../vision/types.ts';
import type { PackedDetections } from './detections-wire.ts';
import type { ImageJob } from '../vision/postprocess.ts';
import type { OrtCacheOptions } from './ort-cache.ts';
import type { Spinning } from './ort-session.ts';
import type { RawTensor } from './types.ts';

export interface TensorMeta {
  name: string;
  type: string;
  /** symbolic dimensions as strings, as ORT reports them */
  shape: Array<number | string>;
}

export interface LoadRequest {
  op: 'load';
  id: number;
  modelId: number;
  /** model.onnx, read by each worker itself (ONNX Runtime reads the file) */
  file: string;
  eps: EpName[];
  /** with a yolo9000 tree file already read and inlined */
  manifest: Manifest;
  /** > 0: also create a solo session with this many ORT threads (CPU only), for lone requests */
  soloThreads?: number;
  /** run each new session once at batch 1 before replying (the first run pays ORT's one-off costs) */
  warm?: boolean;
}

export interface LoadReply {
  ep: EpName;
  failed: EpAttempt[];
  inputs: TensorMeta[];
  outputs: TensorMeta[];
  /** a solo session was created */
  solo: boolean;
  /** the batch size the graph fixes, if it does */
  fixedBatch?: number;
  /** why the warm-up run was skipped, if it was (warm-up of a generator whose inputs cannot be guessed) */
  warmNote?: string | null;
  /** the convolutions the session runs as Winograd (graph-pass.ts) */
  winograd: string[];
}

/**
 * The solo session of a model the worker already holds, made (and warmed once, with `warm`) after the
 * server listens: a cold start loads only each model's own session (Runtime.rampUp). Same fields as a load.
 */
export interface SoloRequest extends Omit<LoadRequest, 'op' | 'soloThreads'> {
  op: 'solo';
  soloThreads: number;
}

export interface WarmRequest {
  op: 'warm';
  id: number;
  modelId: number;
  /** batch sizes to run on the worker's own session */
  batches: number[];
  /** also run the solo session (batch 1), first */
  solo?: boolean;
}

/**
 * A detection job: what the runtime's door makes of one request, resolved once (parameters, the box
 * frame of the image's preprocessing geometry). It travels unchanged through the batcher into a worker,
 * which trusts it (vision/postprocess decodeJobs).
 */
export interface DetectJob extends ImageJob {
  /** C*H*W float32, one slot of the NCHW batch (transferred to the worker) */
  tensor: Float32Array;
}

export interface DetectRequest {
  op: 'runDetect';
  id: number;
  modelId: number;
  /** the batch, one resolved job per image (tensors transferred) */
  jobs: readonly DetectJob[];
  /** run on the solo session (falls back to the worker's own when it has none) */
  solo?: boolean;
}

/** A batch's answer as the runtime hands it on: detections per image, best first. */
export interface DetectReply {
  detections: Detection[][];
  inferMs: number;
  postMs: number;
}

/** The same as the worker sends it: the detections packed into typed arrays (detections-wire.ts). */
export interface DetectWireReply {
  packed: PackedDetections;
  inferMs: number;
  postMs: number;
  /** the jobs' input tensors, transferred back for reuse (tensor-pool.ts) */
  tensors?: Float32Array[];
}

export interface InferRequest {
  op: 'runInfer';
  id: number;
  modelId: number;
  inputs: Record<string, RawTensor>;
}

export interface InferReply {
  outputs: Record<string, RawTensor>;
  inferMs: number;
}

export interface ReleaseRequest {
  op: 'release';
  id: number;
  modelId: number;
}

export type WorkerRequest = LoadRequest | SoloRequest | WarmRequest | DetectRequest | InferRequest | ReleaseRequest;

/** A request as the caller writes it: the pool numbers it. */
export type WorkerCall = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export interface SerializedError {
  message: string;
  /** set when the error is a PinholeError (the caller's mistake) */
  code?: ErrorCode;
}

export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: SerializedError };

export interface WorkerInit {
  /** the worker's place in the pool (start-trace's marks name it) */
  index?: number;
  intraOpThreads: number;
  /** ONNX Runtime's optimized graphs kept on disk between starts (ort-cache.ts); off when absent */
  ortCache?: OrtCacheOptions;
  spinning?: Spinning;
  cpuMemArena?: boolean;
  /** the Winograd pass on CPU float32 models (graph-pass.ts); default on */
  winograd?: boolean;
}
