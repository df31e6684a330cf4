// POST /v1/detect: one image in, the detection response out.
import type { FastifyInstance } from 'fastify';
import type { Admission } from '../admission.ts';
import type { ServerRuntime } from '../contract.ts';
import { imageRequest, registerImageParsers, ACCEPTED, RAW_TYPES } from '../image-body.ts';
import { detectQuerySchema, toDetectParams, withBodyParams, type DetectQuery } from '../params.ts';
import { fileField, multipartFormDoc } from '../openapi.ts';
import { deepstackRoutes } from './deepstack.ts';
import { RENDER_QUERY, sendAnnotated, wantsRender, type RenderFlag } from '../render.ts';

export interface DetectRouteOptions {
  runtime: ServerRuntime;
  bodyLimit: number;
  /** the server's slots and deadline, taken once the image has arrived */
  admission: Admission;
  /** the model behind /v1/vision/face (see deepstack.ts) */
  faceModel?: string;
}

// The raw parsers hand the handler a Buffer; an empty schema keeps validation off those bodies while the
// OpenAPI document still lists the media types.
const raw = { schema: { description: 'the encoded image' } };
// The detection parameters plus the console's `render`: in the query, or as multipart fields / JSON properties.
const detectRouteQuery = { ...detectQuerySchema, properties: { ...detectQuerySchema.properties, render: RENDER_QUERY } } as const;
const detectFormDoc = multipartFormDoc({ image: fileField('the encoded image'), ...detectRouteQuery.properties }, ['image']);

export async function detectRoutes(app: FastifyInstance, opts: DetectRouteOptions): Promise<void> {
  const { runtime, bodyLimit } = opts;
  await registerImageParsers(app, bodyLimit);
  // DeepStack's routes: the same parsers, admission and door (see routes/deepstack.ts)
  await app.register(deepstackRoutes, { prefix: '/v1/vision', runtime, bodyLimit, admission: opts.admission, faceModel: opts.faceModel });

  app.post('/v1/detect', {
    // No route bodyLimit: it would override the per-parser limits set in registerImageParsers.
    config: { accepts: ACCEPTED, limitBytes: bodyLimit, swaggerTransform: detectFormDoc },
    schema: {
      summary: 'Detect objects in one image',
      operationId: 'detect',
      description: `Body: ${ACCEPTED}. Boxes are in pixels of the original image. The parameters may also be `
        + 'sent as multipart fields or JSON properties (the same names and checks; not both in the query and the body).',
      tags: ['detection'],
      querystring: detectRouteQuery,
      body: {
        content: {
          ...Object.fromEntries(RAW_TYPES.map((t) => [t, raw])),
          // No `type`: the multipart parser leaves the body undefined (parts are read in the handler);
          // detectFormDoc gives the document the form's fields.
          'multipart/form-data': {
            schema: { description: 'form field "image": the encoded image' },
          },
          'application/json': {
            schema: {
              type: 'object',
              additionalProperties: false,
              required: ['image'],
              properties: { image: { type: 'string', description: 'base64 (a data: URL prefix is accepted)' }, ...detectRouteQuery.properties },
            },
          },
        },
      },
      response: {
        200: { $ref: 'DetectionResponse#' },
        '4xx': { $ref: 'Error#' },
        '5xx': { $ref: 'Error#' },
      },
    },
  }, async (req, reply) => {
    // The body first: its fields are parameters too. Then the door, once, for all of them.
    const { bytes, fields } = await imageRequest(req, bodyLimit);
    const q = withBodyParams(req, req.query as DetectQuery, fields, detectRouteQuery) as DetectQuery & { render?: RenderFlag };
    const plan = runtime.resolveDetect(q.model, toDetectParams(q));
    req.pinholeModel = plan.model;
    const r = await runtime.runDetect(plan, bytes, opts.admission.enter(reply));
    return wantsRender(q.render) ? sendAnnotated(reply, bytes, r, req.headers.accept) : r;
  });
}
