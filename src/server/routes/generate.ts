// POST /v1/generate (text to image, stackgan) and GET /v1/sample (wgan). The HTTP side only: the images
// come from the runtime's generate/sample, and a runtime without them answers 501.
import type { FastifyInstance } from 'fastify';
import { PinholeError } from '../../errors.ts';
import type { ModelInfo } from '../../runtime/types.ts';
import type { Admission } from '../admission.ts';
import type { ServerRuntime } from '../contract.ts';

function pickModel(runtime: ServerRuntime, name: string | undefined, kind: 'stackgan' | 'wgan', route: string): ModelInfo {
  if (name === undefined) {
    const all = runtime.models().filter((m) => m.kind === kind);
    const pick = all.find((m) => m.status === 'ready') ?? all[0];
    if (!pick) throw new PinholeError('unknown_model', `no ${kind} model is loaded for ${route}`);
    return pick;
  }
  const info = runtime.model(name);
  if (!info) throw new PinholeError('unknown_model', `unknown model "${name}" (see GET /v1/models)`);
  if (info.kind !== kind) throw new PinholeError('bad_parameter', `${route} needs a ${kind} model; "${name}" is ${info.kind ?? 'not loaded'}`);
  return info;
}

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
    const info = pickModel(runtime, b.model, 'stackgan', '/v1/generate');
    req.pinholeModel = info.name;
    if (!runtime.generate) throw notServed('text-to-image generation');
    const img = await runtime.generate(info.name, { text: b.text, seed: b.seed, stage: b.stage }, opts.admission.enter(reply));
    return reply.type('image/png').header('x-seed', String(img.seed)).send(Buffer.from(img.png));
  });

  const sampleQuery = {
    type: 'object',
    additionalProperties: false,
    properties: { model: { type: 'string', minLength: 1 }, seed: seedSchema, n: { type: 'integer', minimum: 1, maximum: 64 } },
  } as const;

  // HEAD answers what GET would (status, type) without running the generator: a sample costs a model run.
  app.head('/v1/sample', { schema: { hide: true, querystring: sampleQuery } }, async (req, reply) => {
    const q = req.query as { model?: string };
    req.pinholeModel = pickModel(runtime, q.model, 'wgan', '/v1/sample').name;
    if (!runtime.sample) throw notServed('sampling');
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
    const info = pickModel(runtime, q.model, 'wgan', '/v1/sample');
    req.pinholeModel = info.name;
    if (!runtime.sample) throw notServed('sampling');
    const img = await runtime.sample(info.name, { seed: q.seed, n: q.n }, opts.admission.enter(reply));
    return reply.type('image/png').header('x-seed', String(img.seed)).send(Buffer.from(img.png));
  });
}
