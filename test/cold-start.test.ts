// Cold start pieces of `pinhole serve`: the runtime starts its workers and loads the models in the background
// (Runtime.start) while the app is built; route schemas compile when a route is first used.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Runtime } from '../src/runtime/index.ts';
import { compiledOnFirstUse } from '../src/server/server-options.ts';
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
  const entries = () => (existsSync(cache) ? readdirSync(cache) : []);
  const answer = async (o: { cache?: boolean; minBytes?: number }) => {
    const rt = await Runtime.create({ modelsDir: root, only: ['tiny'], log: quiet, ortCache: o.cache ? { dir: cache, minBytes: o.minBytes ?? 0 } : undefined });
    try {
      return JSON.stringify((await rt.detect('tiny', png, { thresh: 0.01 })).detections);
    } finally {
      await rt.close();
    }
  };

  it('saves the optimized graph once, serves the same answers from it, and starts over from model.onnx when it is unreadable', async () => {
    const plain = await answer({});
    expect(entries()).toEqual([]);
    // under the size threshold: nothing cached
    expect(await answer({ cache: true, minBytes: 1 << 30 })).toBe(plain);
    expect(entries()).toEqual([]);
    expect(await answer({ cache: true })).toBe(plain);
    const [entry] = entries();
    expect(entries()).toHaveLength(1);
    expect(entry).toMatch(/^[0-9a-f]{32}\.onnx$/);
    const written = statSync(join(cache, entry));
    expect(written.size).toBeGreaterThan(0);
    expect(await answer({ cache: true })).toBe(plain);
    expect(entries()).toEqual([entry]);
    // loaded, not written again: a new entry would be a new file (written aside, then renamed)
    expect(statSync(join(cache, entry)).ino).toBe(written.ino);
    // a damaged entry is dropped and written again
    writeFileSync(join(cache, entry), 'not a graph');
    expect(await answer({ cache: true })).toBe(plain);
    expect(entries()).toEqual([entry]);
    expect(statSync(join(cache, entry)).size).toBe(written.size);
    // a rewritten model.onnx is a new entry (its identity is part of the key)
    writeTinyModel(root, 'tiny', { seed: 11 });
    await answer({ cache: true });
    expect(entries()).toHaveLength(2);
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
