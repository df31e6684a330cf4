// Response schemas shared by routes and the OpenAPI document. Fastify serializes with them, so every
// field the API promises must be listed (unlisted fields are dropped from responses). The detection
// response is the runtime's (its type is derived from it).
export { detectionResponseSchema } from '../runtime/response.ts';
const inputSpec = {
  type: 'object',
  properties: {
    width: { type: 'integer' },
    height: { type: 'integer' },
    channels: { type: 'integer' },
    layout: { type: 'string' },
  },
} as const;

export const modelListSchema = {
  $id: 'ModelList',
  type: 'object',
  required: ['models'],
  properties: {
    models: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'status', 'ready'],
        properties: {
          name: { type: 'string' },
          kind: { type: 'string' },
          status: { type: 'string', enum: ['loading', 'ready', 'error'] },
          ready: { type: 'boolean' },
          error: { type: 'string' },
          input: inputSpec,
          classes: { type: 'integer' },
          ep: { type: 'string', description: 'execution provider in use (cuda, cpu)' },
          max_batch: { type: 'integer', description: 'largest batch the dynamic batcher forms' },
          winograd: { type: 'integer', description: 'convolutions run as Winograd F(m x m, 3 x 3) (CPU, float32; 0: none or the pass is off)' },
          source: { type: 'string' },
          metrics: { type: 'object', additionalProperties: true },
        },
      },
    },
  },
} as const;

const v2Tensor = {
  type: 'object',
  required: ['name', 'shape', 'datatype'],
  properties: {
    name: { type: 'string' },
    shape: { type: 'array', items: { type: 'integer' } },
    datatype: { type: 'string', enum: ['BOOL', 'UINT8', 'INT32', 'INT64', 'FP32'] },
    parameters: {
      type: 'object',
      additionalProperties: true,
      properties: { binary_data_size: { type: 'integer', minimum: 0, description: 'binary tensor data extension: the bytes of this tensor after the JSON' } },
    },
    data: { type: 'array', description: 'row-major values; nested arrays are flattened' },
  },
} as const;

export const v2InferRequestSchema = {
  $id: 'V2InferRequest',
  type: 'object',
  required: ['inputs'],
  properties: {
    id: { type: 'string' },
    parameters: {
      type: 'object',
      additionalProperties: true,
      properties: { binary_data_output: { type: 'boolean', description: 'every output as binary data unless the output says otherwise' } },
    },
    inputs: { type: 'array', minItems: 1, items: v2Tensor, description: 'each with "data" or parameters.binary_data_size' },
    outputs: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string' },
          parameters: { type: 'object', additionalProperties: true, properties: { binary_data: { type: 'boolean', description: 'this output as binary data' } } },
        },
      },
    },
  },
} as const;

export const v2InferResponseSchema = {
  $id: 'V2InferResponse',
  type: 'object',
  required: ['model_name', 'outputs'],
  properties: {
    model_name: { type: 'string' },
    model_version: { type: 'string' },
    id: { type: 'string' },
    outputs: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          shape: { type: 'array', items: { type: 'integer' } },
          datatype: { type: 'string' },
          data: { type: 'array', items: {} },
          parameters: { type: 'object', properties: { binary_data_size: { type: 'integer' } } },
        },
      },
    },
  },
} as const;

export const v2ModelMetadataSchema = {
  $id: 'V2ModelMetadata',
  type: 'object',
  required: ['name', 'platform', 'inputs', 'outputs'],
  properties: {
    name: { type: 'string' },
    versions: { type: 'array', items: { type: 'string' } },
    platform: { type: 'string' },
    inputs: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, datatype: { type: 'string' }, shape: { type: 'array', items: { type: 'integer' } } } } },
    outputs: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, datatype: { type: 'string' }, shape: { type: 'array', items: { type: 'integer' } } } } },
  },
} as const;

/** KServe v2 / Open Inference Protocol error body (SPEC: the /v2 routes keep their clients' shape). */
export const kserveErrorSchema = {
  $id: 'KServeError',
  type: 'object',
  properties: { error: { type: 'string' } },
  required: ['error'],
} as const;
