// What the server needs from the runtime. A structural subset of src/runtime's Runtime, so the HTTP
// layer can be exercised against any object with this shape and never imports ONNX Runtime itself.
import type { DetectParams, DetectionResponse, ModelInfo, RawTensor } from '../runtime/types.ts';

export interface DetectOptions {
  /** absolute time (Date.now() based) after which the request is dropped from the queue */
  deadlineMs?: number;
}

export interface TensorSignature {
  name: string;
  /** KServe v2 datatype: FP32, INT64, INT32, UINT8, BOOL */
  datatype: string;
  /** -1 for a dynamic dimension */
  shape: number[];
}

export interface ModelSignature {
  inputs: TensorSignature[];
  outputs: TensorSignature[];
}

export interface GenerateRequest {
  text: string;
  seed?: number;
  stage?: 1 | 2;
}

export interface SampleRequest {
  seed?: number;
  n?: number;
}

export interface GeneratedImage {
  png: Uint8Array;
  seed: number;
}

export interface ServerRuntime {
  models(): ModelInfo[];
  model(name: string): ModelInfo | undefined;
  detect(model: string, bytes: Uint8Array, params: DetectParams, opts?: DetectOptions): Promise<DetectionResponse>;
  infer(model: string, inputs: Record<string, RawTensor>): Promise<Record<string, RawTensor>>;
  close(): Promise<void>;
  /** KServe v2 model metadata (tensor names, types, shapes); without it /v2/models/{name} lists the image input only */
  signature?(model: string): ModelSignature | undefined | Promise<ModelSignature | undefined>;
  /** text to image (stackgan); absent when the runtime serves no generators */
  generate?(model: string, req: GenerateRequest): Promise<GeneratedImage>;
  /** unconditional samples (wgan), a grid when n > 1 */
  sample?(model: string, req: SampleRequest): Promise<GeneratedImage>;
}
