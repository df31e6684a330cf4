// POST /v1/generate (text to image, stackgan) and GET /v1/sample (wgan). The HTTP side only: the images
// come from the runtime's generation door (resolve, then run), and a runtime without it answers 501.
// The schemas check syntax; which model, and every value against it, is the door's.
import type { FastifyInstance } from 'fastify';
import type { Admission } from '../admission.ts';
import type { ServerRuntime } from '../contract.ts';

const notServed = (what: string) => Object.assign(new Error(`this server does not serve ${what}`), { statusCode: 501 });

// A PNG body with the seed that made it: replaying the request with ?seed= / "seed" gives the same image.
const png = {
  description: 'PNG image',
  headers: { 'x-seed': { type: 'integer', description: 'the seed used (the one given, or the one drawn); send it back to get the same image' } },
  content: { 'image/png': { schema: { type: 'string', format: 'binary' } } },
} as const;
const seedSchema = { type: 'integer', minimum: 0, maximum: 2 ** 32 - 1 } as const;

export async function generateRoutes(app: FastifyInstance, opts: { runtime: ServerRuntime; admission: Admission }): Promise<void> {
  const { runtime } = opts;

  app.post('/v1/generate', {
    schema: {
      summary: 'Text to image (StackGAN)',
      operationId: 'generateImage',
      tags: ['generation'],
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['text'],
        properties: {
          text: { type: 'string', minLength: 1, maxLength: 1000 },
          seed: seedSchema,
          model: { type: 'string', minLength: 1 },
          stage: { type: 'integer', enum: [1, 2] },
        },
      },
      response: { 200: png, '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } },
    },
  }, async (req, reply) => {
    const b = req.body as { text: string; seed?: number; model?: string; stage?: 1 | 2 };
    if (!runtime.resolveGenerate || !runtime.runGenerate) throw notServed('text-to-image generation');
    const plan = runtime.resolveGenerate(b.model, { text: b.text, seed: b.seed, stage: b.stage });
    req.pinholeModel = plan.model;
    const img = await runtime.runGenerate(plan, opts.admission.enter(reply));
    return reply.type('image/png').header('x-seed', String(img.seed)).send(Buffer.from(img.png));
  });

  const sampleQuery = {
    type: 'object',
    additionalProperties: false,
    properties: { model: { type: 'string', minLength: 1 }, seed: seedSchema, n: { type: 'integer', minimum: 1, maximum: 64 } },
  } as const;

  // HEAD answers what GET would (status, type) without running the generator: a sample costs a model run.
  app.head('/v1/sample', { schema: { hide: true, querystring: sampleQuery } }, async (req, reply) => {
    const q = req.query as { model?: string; seed?: number; n?: number };
    if (!runtime.resolveSample || !runtime.runSample) throw notServed('sampling');
    req.pinholeModel = runtime.resolveSample(q.model, { seed: q.seed, n: q.n }).model;
    return reply.type('image/png').send();
  });

  app.get('/v1/sample', {
    exposeHeadRoute: false,
    schema: {
      summary: 'Unconditional samples (WGAN), a grid when n > 1',
      operationId: 'sampleImages',
      tags: ['generation'],
      querystring: sampleQuery,
      response: { 200: png, '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } },
    },
  }, async (req, reply) => {
    const q = req.query as { model?: string; seed?: number; n?: number };
    if (!runtime.resolveSample || !runtime.runSample) throw notServed('sampling');
    const plan = runtime.resolveSample(q.model, { seed: q.seed, n: q.n });
    req.pinholeModel = plan.model;
    const img = await runtime.runSample(plan, opts.admission.enter(reply));
    return reply.type('image/png').header('x-seed', String(img.seed)).send(Buffer.from(img.png));
  });
}
