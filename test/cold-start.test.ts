// Cold start pieces of `pinhole serve`: the runtime starts its workers and loads the models in the background
// (Runtime.start) while the app is built; route schemas compile when a route is first used.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import sharp from 'sharp';
import { Runtime } from '../src/runtime/index.ts';
import { cacheDropEntry, cacheEntry, cacheStore, type CacheEntry } from '../src/runtime/ort-cache.ts';
import { buildApp } from '../src/server/app.ts';
import { compiledOnFirstUse, warmRoutes, type FirstUse } from '../src/server/server-options.ts';
import { FakeRuntime, pngBytes } from './server-fakes.ts';
import { writeTinyModel } from './runtime-fixtures.ts';

const quiet = { info() {}, warn() {}, error() {} };

describe('Runtime.start', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'pinhole-start-'));
    writeTinyModel(root, 'tiny');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('hands back the runtime while the models load; they serve once `loaded` resolves', async () => {
    const { runtime, loaded } = await Runtime.start({ modelsDir: root, log: quiet });
    try {
      expect(runtime.models().map((m) => [m.name, m.status])).toEqual([['tiny', 'loading']]);
      expect(() => runtime.resolveDetect('tiny')).toThrow(/still loading/);
      await loaded;
      expect(runtime.model('tiny')?.status).toBe('ready');
      const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 90, g: 20, b: 200 } } }).png().toBuffer();
      const r = await runtime.detect('tiny', png);
      expect(r.image).toEqual({ width: 40, height: 30 });
    } finally {
      await runtime.close();
    }
  });

  it('a bad option still fails the start itself', async () => {
    await expect(Runtime.start({ modelsDir: root, workers: 0, log: quiet })).rejects.toThrow(/workers/);
  });
});

describe('optimized-graph cache', () => {
  let root: string;
  let cache: string;
  let png: Buffer;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'pinhole-ortc-'));
    cache = join(root, 'cache');
    writeTinyModel(root, 'tiny', { seed: 11 });
    png = await sharp({ create: { width: 50, height: 40, channels: 3, background: { r: 200, g: 120, b: 10 } } }).png().toBuffer();
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const entries = () => (existsSync(cache) ? readdirSync(cache).sort() : []);
  const graphs = () => entries().filter((n) => n.endsWith('.onnx'));
  const weights = () => entries().filter((n) => n.endsWith('.data'));
  const answer = async (o: { cache?: boolean; minBytes?: number }) => {
    const rt = await Runtime.create({ modelsDir: root, only: ['tiny'], log: quiet, ortCache: o.cache ? { dir: cache, minBytes: o.minBytes ?? 0 } : undefined });
    try {
      return JSON.stringify((await rt.detect('tiny', png, { thresh: 0.01 })).detections);
    } finally {
      await rt.close();
    }
  };

  it('saves the optimized graph once, its weights beside it, serves the same answers from it, and starts over when it is unreadable', async () => {
    const plain = await answer({});
    expect(entries()).toEqual([]);
    // under the size threshold: nothing cached
    expect(await answer({ cache: true, minBytes: 1 << 30 })).toBe(plain);
    expect(entries()).toEqual([]);
    expect(await answer({ cache: true })).toBe(plain);
    const [entry] = graphs();
    expect(entry).toMatch(/^[0-9a-f]{32}\.onnx$/);
    const key = entry.slice(0, 32);
    // the weights in a file of the writer's own, named for the key; nothing else left behind
    expect(weights()).toHaveLength(1);
    expect(weights()[0]).toMatch(new RegExp(`^${key}\\.[^/]+\\.data$`));
    expect(entries()).toEqual([entry, weights()[0]].sort());
    const written = statSync(join(cache, entry));
    const data = weights()[0];
    const dataIno = statSync(join(cache, data)).ino;
    expect(written.size).toBeGreaterThan(0);
    expect(await answer({ cache: true })).toBe(plain);
    expect(graphs()).toEqual([entry]);
    // loaded, not written again: a new entry would be new files
    expect(statSync(join(cache, entry)).ino).toBe(written.ino);
    expect(weights()).toEqual([data]);
    expect(statSync(join(cache, data)).ino).toBe(dataIno);
    // a damaged graph is dropped with its weights and written again
    writeFileSync(join(cache, entry), 'not a graph');
    expect(await answer({ cache: true })).toBe(plain);
    expect(graphs()).toEqual([entry]);
    expect(statSync(join(cache, entry)).size).toBe(written.size);
    expect(weights()).toHaveLength(1);
    expect(weights()[0]).not.toBe(data);
    // so are lost weights
    rmSync(join(cache, weights()[0]));
    expect(await answer({ cache: true })).toBe(plain);
    expect(graphs()).toEqual([entry]);
    expect(weights()).toHaveLength(1);
    // a rewritten model.onnx is a new entry (its identity is part of the key)
    writeTinyModel(root, 'tiny', { seed: 11 });
    await answer({ cache: true });
    expect(graphs()).toHaveLength(2);
    expect(weights()).toHaveLength(2);
  });
});

describe('optimized-graph cache, int8', () => {
  let cache: string;
  beforeAll(() => { cache = mkdtempSync(join(tmpdir(), 'pinhole-ortc8-')); });
  afterAll(() => rmSync(cache, { recursive: true, force: true }));

  it('a shipped int8 (QDQ) folder gives the same boxes uncached, writing its graph, and from the cached graph with its weights in their own file', async () => {
    const shapes = readFileSync(join(import.meta.dirname, '..', 'examples', 'shapes.png'));
    const answer = async (cached: boolean) => {
      const rt = await Runtime.create({ modelsDir: join(import.meta.dirname, '..', 'models'), only: ['yolov2-synth-int8'], log: quiet, ortCache: cached ? { dir: cache, minBytes: 0 } : undefined });
      try {
        return JSON.stringify((await rt.detect('yolov2-synth-int8', shapes)).detections);
      } finally {
        await rt.close();
      }
    };
    const plain = await answer(false);
    expect(JSON.parse(plain).length).toBeGreaterThan(0);
    expect(await answer(true)).toBe(plain);
    const files = readdirSync(cache);
    expect(files.filter((n) => n.endsWith('.onnx'))).toHaveLength(1);
    expect(files.filter((n) => n.endsWith('.data'))).toHaveLength(1);
    expect(await answer(true)).toBe(plain);
    expect(readdirSync(cache)).toEqual(files);
  });
});

describe('optimized-graph cache files', () => {
  let dir: string;
  let model: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pinhole-ortf-'));
    model = join(dir, 'model.onnx');
    writeFileSync(model, new Uint8Array(64));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const o = () => ({ dir: join(dir, 'cache'), minBytes: 1 });
  /** what a writer leaves before cacheStore: its temporary graph and its weights */
  const write = (e: CacheEntry, graph: string) => {
    mkdirSync(dirname(e.path), { recursive: true });
    writeFileSync(e.temp, graph);
    writeFileSync(join(dirname(e.path), e.data), `weights of ${graph}`);
  };
  const names = () => readdirSync(o().dir).sort();

  it('a graph already in place stays: a second writer of the same key discards its own files', () => {
    const a = cacheEntry(model, 'b', o())!, b = cacheEntry(model, 'b', o())!;
    expect(a.path).toBe(b.path);
    expect(a.data).not.toBe(b.data);
    write(a, 'graph a');
    write(b, 'graph b');
    expect(cacheStore(a, o())).toBe(true);
    expect(cacheStore(b, o())).toBe(false);
    expect(readFileSync(a.path, 'utf8')).toBe('graph a');
    expect(names()).toEqual([basename(a.path), a.data].sort());
  });

  it('dropping an entry removes its graph, note and weights, and no other key\'s', () => {
    const a = cacheEntry(model, 'a', o())!, b = cacheEntry(model, 'b', o())!;
    write(a, 'a');
    write(b, 'b');
    cacheStore(a, o());
    cacheStore(b, o());
    writeFileSync(a.note, '{}');
    cacheDropEntry(a);
    expect(names()).toEqual([basename(b.path), b.data].sort());
  });

  it('prunes by last use, weights counted, and removes weights left by a writer that died once they are old', () => {
    const a = cacheEntry(model, 'a', o())!, b = cacheEntry(model, 'b', o())!, dead = cacheEntry(model, 'dead', o())!, young = cacheEntry(model, 'young', o())!;
    write(a, 'a'.repeat(100));
    cacheStore(a, o());
    const old = new Date(Date.now() - 3600_000);
    utimesSync(a.path, old, old);
    write(dead, 'dead');
    write(young, 'young');
    utimesSync(join(o().dir, dead.data), old, old);
    utimesSync(dead.temp, old, old);
    // b's graph and weights fit the budget; a's (used earlier) do not
    write(b, 'b');
    expect(cacheStore(b, { ...o(), maxBytes: 150 })).toBe(true);
    expect(names()).toEqual([basename(b.path), b.data, young.temp.split('/').pop()!, young.data].sort());
  });
});

describe('compiledOnFirstUse', () => {
  it('compiles once, on the first call, and carries the compiled function\'s errors', () => {
    let compiles = 0;
    const v = compiledOnFirstUse(() => {
      compiles++;
      const f = ((x: unknown) => {
        f.errors = typeof x === 'number' ? null : [{ message: 'must be number' }];
        return typeof x === 'number';
      }) as ((x: unknown) => boolean) & { errors?: unknown };
      return f;
    });
    expect(compiles).toBe(0);
    expect(v('a')).toBe(false);
    expect(v.errors).toEqual([{ message: 'must be number' }]);
    expect(v(3)).toBe(true);
    expect(v.errors).toBeNull();
    expect(compiles).toBe(1);
  });
});

describe('warmRoutes: the hot route\'s schemas compiled while serve waits for its models', () => {
  const never = new Promise<void>(() => {});
  const entry = (pending: Set<FirstUse>, url: string, log: string[], fail = false) => compiledOnFirstUse(() => {
    log.push(url);
    if (fail) throw new Error('bad schema');
    return ((x: unknown) => x !== undefined) as never;
  }, pending, url);

  it('compiles the given routes\' functions, no other, and each only once', async () => {
    const pending = new Set<FirstUse>(), log: string[] = [];
    const a = entry(pending, '/v1/detect', log);
    entry(pending, '/v1/detect', log);
    const other = entry(pending, '/v1/models', log);
    expect(await warmRoutes(pending, ['/v1/detect'], never)).toBe(2);
    expect(log).toEqual(['/v1/detect', '/v1/detect']);
    expect([...pending].map((e) => e.url)).toEqual(['/v1/models']);
    a(1);
    other(1);
    expect(log).toEqual(['/v1/detect', '/v1/detect', '/v1/models']);
    expect(pending.size).toBe(0);
  });

  it('stops once the wait is over', async () => {
    const pending = new Set<FirstUse>(), log: string[] = [];
    entry(pending, '/v1/detect', log);
    expect(await warmRoutes(pending, ['/v1/detect'], Promise.resolve())).toBe(0);
    expect(log).toEqual([]);
    expect(pending.size).toBe(1);
  });

  it('leaves a schema that fails to compile to its route\'s first use', async () => {
    const pending = new Set<FirstUse>(), log: string[] = [];
    const v = entry(pending, '/v1/detect', log, true);
    expect(await warmRoutes(pending, ['/v1/detect'], never)).toBe(0);
    expect(() => v(1)).toThrow('bad schema');
  });

  it('the app registers /v1/detect\'s validators and serializers; compiled ahead, the answers are the same', async () => {
    const firstUse = new Set<FirstUse>();
    const app = await buildApp({ runtime: new FakeRuntime(), firstUse });
    await app.ready();
    const detect = [...firstUse].filter((e) => e.url === '/v1/detect').length;
    expect(detect).toBeGreaterThanOrEqual(2); // its query string and its 200 reply at least
    expect(await warmRoutes(firstUse, ['/v1/detect'], never)).toBe(detect);
    expect([...firstUse].some((e) => e.url === '/v1/detect')).toBe(false);
    const png = await pngBytes(64, 48);
    const bad = await app.inject({ method: 'POST', url: '/v1/detect?thresh=abc', headers: { 'content-type': 'image/png' }, payload: png });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('bad_parameter');
    const ok = await app.inject({ method: 'POST', url: '/v1/detect?thresh=0.3', headers: { 'content-type': 'image/png' }, payload: png });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().image).toEqual({ width: 64, height: 48 });
    await app.close();
  });
});
