// The console's server side without a browser: GET / and /index.html answer the page, its script is compiled
// from web/src by esbuild on first use (and kept), other paths keep the JSON 404; and the Models tab's
// Prometheus reading, which accepts the SPEC names and the retired ones.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/server/app.ts';
import { figures, parseProm, rates } from '../web/src/prom.ts';
import { FakeRuntime } from './server-fakes.ts';

let app: FastifyInstance;

beforeAll(async () => {
  app = await buildApp({ runtime: new FakeRuntime() });
});

afterAll(async () => {
  await app.close();
});

describe('console routes', () => {
  it('GET / and /index.html answer the console page, which loads console.js and console.css', async () => {
    for (const url of ['/', '/index.html']) {
      const r = await app.inject({ url });
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.body).toContain('<script type="module" src="console.js"></script>');
      expect(r.body).toContain('href="console.css"');
      for (const tab of ['detect', 'live', 'generate', 'models']) expect(r.body).toContain(`id="tab-${tab}"`);
    }
  });

  it('compiles web/src into one script once and serves the style', async () => {
    const js = await app.inject({ url: '/console.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    // bundled: no import statements left, and the stream and detect calls are in it
    expect(js.body).not.toMatch(/^import /m);
    expect(js.body).toContain('v1/stream');
    expect(js.body).toContain('v1/detect');
    const again = await app.inject({ url: '/console.js' });
    expect(again.headers['x-build-ms']).toBe(js.headers['x-build-ms']);
    const css = await app.inject({ url: '/console.css' });
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    expect(css.body).toContain('@media');
  });

  it('leaves other paths to the JSON 404 and keeps the console out of the OpenAPI document', async () => {
    const r = await app.inject({ url: '/console.map' });
    expect(r.statusCode).toBe(404);
    expect(r.json().error.code).toBe('not_found');
    const doc = (await app.inject({ url: '/docs/json' })).json() as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).not.toContain('/');
    expect(Object.keys(doc.paths)).toContain('/v1/detect');
  });
});

describe('Models tab: Prometheus figures', () => {
  const text = (images: number, batches: number, names: 'spec' | 'retired') => [
    '# HELP pinhole_queue_depth requests waiting',
    'pinhole_queue_depth{model="a"} 3',
    `pinhole_inference_${names === 'spec' ? 'total' : 'count'}{model="a"} ${images}`,
    `pinhole_execution_${names === 'spec' ? 'total' : 'count'}{model="a"} ${batches}`,
    'pinhole_model_ready{model="a"} 1',
    'process_cpu_seconds_total 12',
  ].join('\n');

  for (const names of ['spec', 'retired'] as const) {
    it(`reads images/s, average batch and queue depth (${names} counter names)`, () => {
      const before = figures(parseProm(text(100, 50, names)), 'a');
      const after = figures(parseProm(text(160, 70, names)), 'a');
      expect(after).toEqual({ images: 160, batches: 70, queueDepth: 3, ready: 1 });
      expect(rates(before, after, 2)).toEqual({ imagesPerSec: 30, avgBatch: 3 });
      expect(rates(undefined, after, 2)).toEqual({});
      expect(figures(parseProm(text(1, 1, names)), 'other').images).toBeUndefined();
    });
  }
});
