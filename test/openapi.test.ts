// The OpenAPI document (/docs/json): media types, the multipart file field, operationIds, X-Seed and the
// WebSocket route documented; linted with Redocly's recommended rules (a real linter, offline).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { buildApp } from '../src/server/app.ts';
import { FakeRuntime } from './server-fakes.ts';

let app: FastifyInstance;
let doc: { paths: Record<string, Record<string, Operation>>; [k: string]: unknown };
let source: string;

interface Operation {
  operationId?: string;
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }>; headers?: Record<string, unknown> }>;
  requestBody?: { content: Record<string, { schema: { type?: string; properties?: Record<string, { type: string; format?: string }>; required?: string[] } }> };
  parameters?: Array<{ name: string; in: string }>;
}

// Waived rules, each for named operations only (a new route that breaks the rule still fails):
// - operation-4xx-response: these GETs take no parameters and no body, so no caller mistake is possible;
//   a 4xx listed for them would document an answer they never give.
// - operation-2xx-response: a WebSocket upgrade succeeds with 101 Switching Protocols, never 2xx.
const WAIVED: Record<string, string[]> = {
  'operation-4xx-response': ['listModels', 'serverMetadata', 'serverLive', 'serverReady', 'metrics'],
  'operation-2xx-response': ['stream'],
};

async function lint(text: string) {
  const config = await createConfig({ extends: ['recommended'] });
  return lintFromString({ source: text, absoluteRef: '/openapi.json', config });
}

function operationAt(pointer: string): Operation | undefined {
  const m = /^#\/paths\/([^/]+)\/([a-z]+)/.exec(pointer);
  if (!m) return undefined;
  return doc.paths[m[1].replace(/~1/g, '/').replace(/~0/g, '~')]?.[m[2]];
}

beforeAll(async () => {
  app = await buildApp({ runtime: new FakeRuntime() });
  await app.ready();
  const r = await app.inject({ url: '/docs/json' });
  source = r.body;
  doc = r.json();
});
afterAll(async () => { await app.close(); });

describe('OpenAPI document', () => {
  it('passes Redocly recommended lint, apart from the waived rules on the named operations', async () => {
    const problems = await lint(source);
    const left = problems.filter((p) => {
      const op = operationAt(p.location[0]?.pointer ?? '');
      return !(op?.operationId && WAIVED[p.ruleId]?.includes(op.operationId));
    });
    expect(left.map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`)).toEqual([]);
    // the waivers are all still needed (a stale one would hide nothing and mislead)
    const used = new Set(problems.map((p) => `${p.ruleId}/${operationAt(p.location[0]?.pointer ?? '')?.operationId}`));
    for (const [rule, ops] of Object.entries(WAIVED)) for (const op of ops) expect(used, `${rule}/${op}`).toContain(`${rule}/${op}`);
  });

  it('the linter does catch a broken document', async () => {
    const broken = JSON.parse(source);
    delete broken.paths['/v1/detect'].post.operationId;
    broken.paths['/v1/detect'].post.responses = {};
    const rules = new Set((await lint(JSON.stringify(broken))).map((p) => p.ruleId));
    expect(rules).toContain('operation-operationId');
    expect(rules).toContain('operation-2xx-response');
  });

  it('every operation has a unique operationId', () => {
    const ids = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
    expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('images and Prometheus text are typed as what they are; X-Seed is documented', () => {
    for (const [path, method] of [['/v1/generate', 'post'], ['/v1/sample', 'get']] as const) {
      const ok = doc.paths[path][method].responses['200'];
      expect(Object.keys(ok.content ?? {}), path).toEqual(['image/png']);
      expect(ok.content!['image/png'].schema).toMatchObject({ type: 'string', format: 'binary' });
      expect(ok.headers, path).toHaveProperty('x-seed');
    }
    expect(Object.keys(doc.paths['/metrics'].get.responses['200'].content ?? {})).toEqual(['text/plain']);
  });

  it('the multipart forms have a binary file field "image" and their parameters', () => {
    for (const [path, fields] of [['/v1/detect', ['thresh', 'model', 'classes']], ['/v1/vision/detection', ['min_confidence', 'api_key']],
      ['/v1/vision/custom/{model}', ['min_confidence']], ['/v1/vision/face', ['min_confidence']]] as const) {
      const form = doc.paths[path].post.requestBody!.content['multipart/form-data'].schema;
      expect(form.type, path).toBe('object');
      expect(form.properties!.image, path).toMatchObject({ type: 'string', format: 'binary' });
      expect(form.required, path).toContain('image');
      expect(Object.keys(form.properties!), path).toEqual(expect.arrayContaining([...fields]));
    }
  });

  it('documents the KServe versioned routes', () => {
    for (const p of ['/v2', '/v2/models/{name}/versions/{version}', '/v2/models/{name}/versions/{version}/ready', '/v2/models/{name}/versions/{version}/infer']) {
      expect(doc.paths[p], p).toBeDefined();
    }
  });

  it('documents the WebSocket route /v1/stream with its query', () => {
    const op = doc.paths['/v1/stream']?.get;
    expect(op).toBeDefined();
    expect(op.responses).toHaveProperty('101');
    expect(op.parameters!.map((p) => p.name)).toEqual(expect.arrayContaining(['model', 'thresh', 'nms', 'format']));
  });
});
