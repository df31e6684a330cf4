// DeepStack / CodeProject.AI vision routes under /v1/vision, for the clients that speak it (Home Assistant,
// Frigate, Blue Iris, Agent DVR): multipart `image` + `min_confidence`, answered
// {"success": true, "predictions": [...]} or {"success": false, "error"} (SPEC exception) with the status.
// Registered inside the /v1/detect scope: the same body parsers, admission and runtime calls as /v1/detect.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PinholeError } from '../../errors.ts';
import type { ServerRuntime } from '../contract.ts';
import { checkFields, faceModelName, minConfidence, toPredictions } from '../deepstack.ts';
import type { Admission } from '../admission.ts';
import { imageRequest } from '../image-body.ts';
import { fileField, multipartFormDoc } from '../openapi.ts';

export interface DeepStackOptions {
  runtime: ServerRuntime;
  bodyLimit: number;
  /** the server's slots and deadline (shared with /v1/detect and every route that runs a model) */
  admission: Admission;
  /** --face-model: the model behind /v1/vision/face (default: the detector whose one class is "face") */
  faceModel?: string;
}

const minConfidenceSchema = { type: 'number', minimum: 0, maximum: 1, description: 'score threshold (default: the model\'s own)' } as const;
const formDoc = multipartFormDoc({
  image: fileField('the encoded image'),
  min_confidence: minConfidenceSchema,
  api_key: { type: 'string', description: 'accepted and not checked: Pinhole has no API keys' },
}, ['image']);

const predictionSchema = (label: boolean) => ({
  type: 'object',
  required: ['confidence', 'x_min', 'y_min', 'x_max', 'y_max'],
  properties: {
    ...(label ? { label: { type: 'string' } } : {}),
    confidence: { type: 'number' },
    x_min: { type: 'integer' }, y_min: { type: 'integer' }, x_max: { type: 'integer' }, y_max: { type: 'integer' },
  },
});
const failure = {
  type: 'object',
  required: ['success', 'error'],
  properties: { success: { type: 'boolean', enum: [false] }, error: { type: 'string' } },
} as const;

function routeSchema(operationId: string, summary: string, label: boolean, params?: object) {
  return {
    summary,
    operationId,
    tags: ['deepstack'],
    ...(params ? { params } : {}),
    querystring: { type: 'object', additionalProperties: false, properties: { min_confidence: minConfidenceSchema } },
    body: { content: { 'multipart/form-data': { schema: { description: 'file field "image", field "min_confidence"' } } } },
    response: {
      200: {
        type: 'object',
        required: ['success', 'predictions'],
        properties: {
          success: { type: 'boolean' },
          predictions: { type: 'array', items: predictionSchema(label), description: 'best first; pixels of the original image' },
          duration: { type: 'number', description: 'milliseconds in the server' },
          model: { type: 'string', description: 'the Pinhole model that answered' },
        },
      },
      '4xx': failure,
      '5xx': failure,
    },
  };
}

export async function deepstackRoutes(app: FastifyInstance, opts: DeepStackOptions): Promise<void> {
  const { runtime } = opts;

  /** One request through the same door as /v1/detect: the image, min_confidence as thresh, the model's answer. */
  const answer = async (req: FastifyRequest, reply: FastifyReply, model: string | undefined, label: boolean) => {
    const t0 = performance.now();
    const { bytes, fields } = await imageRequest(req, opts.bodyLimit);
    checkFields(fields);
    const thresh = minConfidence((req.query as { min_confidence?: number }).min_confidence, fields);
    const plan = runtime.resolveDetect(model, thresh === undefined ? {} : { thresh });
    req.pinholeModel = plan.model;
    const r = await runtime.runDetect(plan, bytes, opts.admission.enter(reply));
    return { success: true, predictions: toPredictions(r, label), duration: Math.round((performance.now() - t0) * 10) / 10, model: r.model };
  };
  const config = { swaggerTransform: formDoc, accepts: 'multipart/form-data with a file field "image"', limitBytes: opts.bodyLimit };

  app.post('/detection', {
    config,
    schema: routeSchema('visionDetection', 'DeepStack object detection (the default detector)', true),
  }, (req, reply) => answer(req, reply, undefined, true));

  app.post('/custom/:model', {
    config,
    schema: routeSchema('visionCustom', 'DeepStack custom model: any detector folder by name', true,
      { type: 'object', required: ['model'], properties: { model: { type: 'string', minLength: 1 } } }),
  }, (req, reply) => answer(req, reply, (req.params as { model: string }).model, true));

  app.post('/face', {
    config,
    schema: routeSchema('visionFace', 'DeepStack face detection (the face model)', false),
  }, (req, reply) => {
    const name = faceModelName(runtime, opts.faceModel);
    if (opts.faceModel !== undefined && !runtime.model(name)) throw new PinholeError('unknown_model', `--face-model "${name}" is not loaded`);
    return answer(req, reply, name, false);
  });
}
