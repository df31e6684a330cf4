// The runtime's public surface, as used by src/server and the CLI. Shapes of responses follow SPEC.md.
import type { InputSpec, ModelKind } from '../manifest.ts';

export interface DetectParams {
  /** score threshold (darknet: objectness*class prob > thresh); default .25 */
  thresh?: number;
  /** NMS IoU threshold; default per model (.45 region, .4 yolov1) */
  nms?: number;
  /** yolo9000 hierarchy threshold; default .5 */
  hier?: number;
  /** at most this many detections, best first */
  maxDet?: number;
  /** keep only these class ids */
  classes?: number[];
  /** class-agnostic NMS */
  agnostic?: boolean;
}

export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface Detection {
  class_id: number;
  class: string;
  score: number;
  box: Box;
  /** yolo9000: WordTree path from the root to the predicted node, as names */
  path?: string[];
}

export interface Timing {
  decode: number;
  queue: number;
  infer: number;
  post: number;
}

export interface DetectionResponse {
  model: string;
  image: { width: number; height: number };
  detections: Detection[];
  timing_ms: Timing;
}

export type ModelStatus = 'loading' | 'ready' | 'error';

export interface ModelInfo {
  name: string;
  dir: string;
  status: ModelStatus;
  error?: string;
  kind?: ModelKind;
  input?: InputSpec;
  classes?: number;
  /** execution provider actually in use: 'cuda' | 'cpu' */
  ep?: string;
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
}

/** Hooks the server uses for metrics; the runtime calls them, never imports prom-client. */
export interface RuntimeObserver {
  onBatch?(e: BatchEvent): void;
  onQueueDepth?(model: string, depth: number): void;
  onModelStatus?(info: ModelInfo): void;
}
