// The runtime's public surface, as used by src/server and the CLI. Shapes of responses follow SPEC.md.
import type { InputSpec, ModelKind } from '../manifest.ts';
import type { Spinning } from './ort-session.ts';

// The job's types are src/vision's; re-exported for the server and the CLI.
export { TREE_SCORES, type Box, type Detection, type DetectParams, type ImageSize, type TreeScores } from '../vision/types.ts';
export type { DetectionResponse, Timing } from './response.ts';

export type ModelStatus = 'loading' | 'ready' | 'error';

export interface ModelInfo {
  name: string;
  dir: string;
  status: ModelStatus;
  error?: string;
  kind?: ModelKind;
  input?: InputSpec;
  classes?: number;
  /** class names (model.json `names`), e.g. to find the face model: a detector whose one class is "face" */
  names?: readonly string[];
  /** execution provider actually in use: 'cuda' | 'cpu' */
  ep?: string;
  /** largest batch the batcher forms for this model */
  maxBatch?: number;
  /** how many convolutions run as Winograd F(m x m, 3 x 3) (CPU float32 models; 0: none, or the pass is off) */
  winograd?: number;
  source?: string;
  metrics?: Record<string, unknown>;
}

/** Raw tensors for KServe v2 infer. */
export interface RawTensor {
  type: 'float32' | 'int64' | 'int32' | 'uint8' | 'bool';
  dims: number[];
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array;
}

export interface BatchEvent {
  model: string;
  /** images in the batch */
  size: number;
  /** seconds each request waited in the queue */
  queueSeconds: number[];
  /** seconds the batch took in ORT */
  inferSeconds: number;
  /** it ran alone on the solo session (every core) */
  solo?: boolean;
  /** the worker it ran on */
  worker?: number;
}

/** Hooks the server uses for metrics; the runtime calls them, never imports prom-client. */
export interface RuntimeObserver {
  onBatch?(e: BatchEvent): void;
  onQueueDepth?(model: string, depth: number): void;
  onModelStatus?(info: ModelInfo): void;
}

/** Per-call options of detect() and infer(). */
export interface DetectOptions {
  /** absolute time (Date.now() based, ms) after which a request still queued is dropped (PinholeError 'timeout') */
  deadlineMs?: number;
}

/** ONNX Runtime's optimized graphs kept on disk between starts (src/runtime/ort-cache.ts). */
export interface OrtCacheOptions {
  dir: string;
  /** smaller model files are not cached: their graphs optimize in a few ms (default 8 MiB) */
  minBytes?: number;
  /** the folder is pruned, least recently used first, to this many bytes (default 1 GiB) */
  maxBytes?: number;
}

/** Where the runtime writes its log lines (a pino logger fits). */
export interface RuntimeLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface RuntimeOptions {
  /** folder holding one sub-folder per model (model.json + model.onnx) */
  modelsDir: string;
  /** load only these folders of modelsDir (default: all); `pinhole detect` serves one */
  only?: readonly string[];
  /** execution providers in order of preference, e.g. "cuda,cpu"; default cpu */
  eps?: string | readonly string[];
  /** largest batch the dynamic batcher forms (default 4; on CPU 1 for an int8 model: sessions.ts cpuMaxBatch) */
  maxBatch?: number;
  /** how long a lone request waits for company while a worker is free (default: none on CPU, 2 ms on CUDA) */
  batchDelayMs?: number;
  /** requests waiting per model (queued + being decoded) before answering overloaded (default 64) */
  queueLimit?: number;
  /** inference worker threads, each with its own session (default 1, one per core when every model is int8 on CPU: see threadPlan) */
  workers?: number;
  /** ORT intra-op threads per worker (default: cores / workers) */
  intraOpThreads?: number;
  /** ORT threads of the solo session that runs a lone request on CPU (default: cores when workers have fewer; 0: none) */
  soloThreads?: number;
  /** images decoded at once (default: libuv's pool size, 4; lanes.ts says why) */
  decodeLanes?: number;
  /** ORT's CPU memory arena (default true); false allocates each run's activations and frees them after */
  cpuMemArena?: boolean;
  /**
   * rewrite the eligible 3x3 convolutions of float32 models on CPU as Winograd F(m x m, 3 x 3) before ONNX Runtime
   * optimizes them (src/runtime/graph-pass.ts; default true)
   */
  winograd?: boolean;
  /**
   * keep ONNX Runtime's optimized graphs of large models in this folder between starts (faster session
   * creation, less memory; ort-cache.ts); default none
   */
  ortCache?: OrtCacheOptions;
  /** let ORT's idle intra-op threads spin (ort-session.ts Spinning; default false: an idle thread yields its core to decoding) */
  intraOpSpinning?: Spinning;
  /** images with more pixels (width x height) are refused with too_large (default 40 M) */
  maxInputPixels?: number;
  /** run every batch size once at load so the first requests are not slow (default true) */
  warmup?: boolean;
  /** reload a model when its folder changes (default false) */
  watch?: boolean;
  /**
   * A faster cold start (`pinhole serve`): `loaded` waits for one warm session per model, on the first
   * worker only; the other workers and the solo sessions come up with Runtime.rampUp(), called once the
   * server listens (default false: the whole thread plan before `loaded`)
   */
  rampUp?: boolean;
  observer?: RuntimeObserver;
  log?: RuntimeLogger;
}

/** A model input or output: ONNX Runtime's type name (float32, int64, ...), -1 for a dynamic dimension. */
export interface TensorSignature {
  name: string;
  type: string;
  shape: number[];
}

export interface ModelSignature {
  inputs: TensorSignature[];
  outputs: TensorSignature[];
}
