// KServe's custom resources as TypeScript types, for checking deploy/kserve/ offline. No npm package models
// KServe (kubernetes-models has none), its published CRDs cannot be fetched in CI (npm and Debian only), so
// these are transcribed from KServe's Go API types (pkg/apis/serving: v1alpha1 ServingRuntimeSpec,
// v1beta1 InferenceServiceSpec / PredictorSpec / ModelSpec / ComponentExtensionSpec), the source its CRDs
// are generated from, and composed with kubernetes-models' core/v1 types for the embedded pod and
// container fields. Only what a predictor of a custom runtime uses is covered; an unknown field fails.
import type { IAffinity, IContainer, IEnvVar, ILocalObjectReference, IPodSpec, IResourceRequirements, IToleration, IVolume } from 'kubernetes-models/v1';
import type { IObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';

/** constants.InferenceServiceProtocol */
export type Protocol = 'v1' | 'v2' | 'grpc-v1' | 'grpc-v2';

export interface SupportedModelFormat {
  name: string;
  version?: string;
  autoSelect?: boolean;
  /** kubebuilder:validation:Minimum=1 */
  priority?: number;
}

export interface ServingRuntimeSpec {
  supportedModelFormats?: SupportedModelFormat[];
  multiModel?: boolean;
  disabled?: boolean;
  protocolVersions?: Protocol[];
  // ServingRuntimePodSpec, inline
  containers: IContainer[];
  volumes?: IVolume[];
  nodeSelector?: Record<string, string>;
  affinity?: IAffinity;
  tolerations?: IToleration[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  imagePullSecrets?: ILocalObjectReference[];
  hostIPC?: boolean;
  // ModelMesh only
  grpcEndpoint?: string;
  grpcDataEndpoint?: string;
  httpDataEndpoint?: string;
  replicas?: number;
  storageHelper?: { disabled?: boolean };
  builtInAdapter?: { serverType?: string; runtimeManagementPort?: number; memBufferBytes?: number; modelLoadingTimeoutMillis?: number; env?: IEnvVar[] };
}

export interface ServingRuntime {
  apiVersion: 'serving.kserve.io/v1alpha1';
  kind: 'ServingRuntime';
  metadata: IObjectMeta;
  spec: ServingRuntimeSpec;
}

/** v1beta1 ModelSpec: the model format and runtime, PredictorExtensionSpec inline (storage, protocol, a container). */
export interface ModelSpec extends Partial<IContainer> {
  modelFormat: { name: string; version?: string };
  runtime?: string;
  storageUri?: string;
  runtimeVersion?: string;
  protocolVersion?: Protocol;
  storage?: { path?: string; schemaPath?: string; parameters?: Record<string, string>; key?: string };
}

/** v1beta1 ComponentExtensionSpec */
export interface ComponentExtensionSpec {
  minReplicas?: number;
  maxReplicas?: number;
  scaleTarget?: number;
  scaleMetric?: 'cpu' | 'memory' | 'concurrency' | 'rps';
  scaleMetricType?: 'Utilization' | 'AverageValue';
  containerConcurrency?: number;
  timeout?: number;
  canaryTrafficPercent?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** v1beta1 PredictorSpec, for a model served by a ServingRuntime (the framework shorthands are left out). */
export interface PredictorSpec extends ComponentExtensionSpec, Omit<Partial<IPodSpec>, 'containers'> {
  model?: ModelSpec;
  containers?: IContainer[];
}

export interface InferenceService {
  apiVersion: 'serving.kserve.io/v1beta1';
  kind: 'InferenceService';
  metadata: IObjectMeta;
  spec: { predictor: PredictorSpec };
}

export type { IResourceRequirements };
