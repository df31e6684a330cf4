// POST /v1/detect: one image in, the detection response out.
import type { FastifyInstance } from 'fastify';
import type { Admission } from '../admission.ts';
import type { ServerRuntime } from '../contract.ts';
import { imageBytes, registerImageParsers, ACCEPTED } from '../image-body.ts';
import { detectQuerySchema, toDetectParams, type DetectQuery } from '../params.ts';
import { RENDER_QUERY, sendAnnotated, wantsRender, type RenderFlag } from '../render.ts';

export interface DetectRouteOptions {
  runtime: ServerRuntime;
  bodyLimit: number;
  /** the server's slots and deadline, taken once the image has arrived */
  admission: Admission;
}

// The raw parsers hand the handler a Buffer; an empty schema keeps validation off those bodies while the
// OpenAPI document still lists the media types.
const raw = { schema: { description: 'the encoded image' } };

export async function detectRoutes(app: FastifyInstance, opts: DetectRouteOptions): Promise<void> {
  const { runtime, bodyLimit } = opts;
  await registerImageParsers(app, bodyLimit);

  app.post('/v1/detect', {
    // No route bodyLimit: it would override the per-parser limits set in registerImageParsers.
    config: { accepts: ACCEPTED, limitBytes: bodyLimit },
    schema: {
      summary: 'Detect objects in one image',
      description: `Body: ${ACCEPTED}. Boxes are in pixels of the original image.`,
      tags: ['detection'],
      querystring: { ...detectQuerySchema, properties: { ...detectQuerySchema.properties, render: RENDER_QUERY } },
      body: {
        content: {
          'image/jpeg': raw,
          'image/png': raw,
          'image/webp': raw,
          'application/octet-stream': raw,
          // No `type`: the multipart parser leaves the body undefined (parts are read in the handler).
          'multipart/form-data': {
            schema: { description: 'form field "image": the encoded image' },
          },
          'application/json': {
            schema: {
              type: 'object',
              required: ['image'],
              properties: { image: { type: 'string', description: 'base64 (a data: URL prefix is accepted)' } },
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
    const q = req.query as DetectQuery & { render?: RenderFlag };
    const plan = runtime.resolveDetect(q.model, toDetectParams(q));
    req.pinholeModel = plan.model;
    const bytes = await imageBytes(req, bodyLimit);
    const r = await runtime.runDetect(plan, bytes, opts.admission.enter(reply));
    return wantsRender(q.render) ? sendAnnotated(reply, bytes, r, req.headers.accept) : r;
  });
}
