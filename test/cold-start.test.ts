// Cold start pieces of `pinhole serve`: the runtime starts its workers and loads the models in the background
// (Runtime.start) while the app is built; route schemas compile when a route is first used.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
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
