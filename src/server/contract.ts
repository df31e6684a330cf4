// What the server needs from the runtime. A structural subset of src/runtime's Runtime, so the HTTP
// layer can be exercised against any object with this shape and never imports ONNX Runtime itself
// (type-only imports: nothing of src/runtime is loaded by them).
import type { GeneratedImage, GeneratePlan, GenerateRequest, SamplePlan, SampleRequest } from '../runtime/generate.ts';
import type { DetectPlan } from '../runtime/runtime.ts';
import type { DetectOptions, DetectParams, DetectionResponse, ModelInfo, ModelSignature, RawTensor } from '../runtime/types.ts';

// still exported here: the server's routes and its test fakes name them through the contract
export type { DetectOptions, DetectPlan, GeneratedImage, GeneratePlan, GenerateRequest, ModelSignature, SamplePlan, SampleRequest };
export type { TensorSignature } from '../runtime/types.ts';

export interface ServerRuntime {
  models(): ModelInfo[];
  model(name: string): ModelInfo | undefined;
  /**
   * The door: the model a request names (or the default detector) and its parameters, checked once
   * against the model (unknown_model, model_not_ready, bad_parameter). Routes only check syntax.
   */
  resolveDetect(model: string | undefined, params: DetectParams): DetectPlan;
  /** Runs a resolved request on one encoded image. */
  runDetect(plan: DetectPlan, bytes: Uint8Array, opts?: DetectOptions): Promise<DetectionResponse>;
  /** resolveDetect + runDetect in one call */
  detect(model: string | undefined, bytes: Uint8Array, params: DetectParams, opts?: DetectOptions): Promise<DetectionResponse>;
  infer(model: string, inputs: Record<string, RawTensor>, opts?: DetectOptions): Promise<Record<string, RawTensor>>;
  close(): Promise<void>;
  /** tensor names, ORT types and shapes; without it /v2/models/{name} lists the image input only */
  signature?(model: string): ModelSignature | undefined | Promise<ModelSignature | undefined>;
  // The generation door, like detection's: resolve checks a request once against its model (the named one
  // or the first ready of the kind: unknown_model, model_not_ready, bad_parameter); run trusts the plan.
  // All four are absent when the runtime serves no generators.
  /** text to image (stackgan) */
  resolveGenerate?(model: string | undefined, req: GenerateRequest): GeneratePlan;
  runGenerate?(plan: GeneratePlan, opts?: DetectOptions): Promise<GeneratedImage>;
  /** unconditional samples (wgan), a grid when n > 1 */
  resolveSample?(model: string | undefined, req: SampleRequest): SamplePlan;
  runSample?(plan: SamplePlan, opts?: DetectOptions): Promise<GeneratedImage>;
}
