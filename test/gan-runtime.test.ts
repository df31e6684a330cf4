// GAN serving on the real Runtime (worker threads, ORT): seeded determinism, stages, grids, and 4xx
// for bad requests. The generators here are small hand-built ONNX graphs whose outputs depend on every
// input (tokens, noise, eps), so a wrong feed changes the image.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { GraphBuilder, attr } from '../src/onnx/graph.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import { PinholeError } from '../src/errors.ts';
import { seededNormals } from '../src/runtime/generate.ts';
import { tile, toRgb } from '../src/vision/generated-images.ts';
import { PAD, UNK, buildVocabulary, checkText, encodeText, words } from '../src/vision/text.ts';

const quiet = { info: () => {}, warn: () => {}, error: () => {} };
const L = 6;
const Z = 4;
const C = 3;

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5));
}

/** tokens [N,L] int32, z [N,Z], eps [N,C] -> stage1 [N,3,4,4], stage2 [N,3,8,8] (tanh). */
function stackganGraph(vocab: number): Uint8Array {
  const g = new GraphBuilder('toy_stackgan');
  const tokens = g.input('tokens', ['N', L], 'int32');
  const z = g.input('z', ['N', Z]);
  const eps = g.input('eps', ['N', C]);
  const emb = g.node('Gather', [g.initializer('table', rand(vocab * 5, 1), [vocab, 5]), tokens], { axis: attr.i(0) });
  const flat = g.node('Flatten', [emb], { axis: attr.i(1) });
  const h = g.node('Concat', [flat, z, eps], { axis: attr.i(1) });
  const d = L * 5 + Z + C;
  const s1 = g.node('Tanh', [g.node('Gemm', [h, g.initializer('w1', rand(d * 48, 2).map((v) => v * 3), [d, 48])])]);
  g.output(g.node('Reshape', [s1, g.ints('sh1', [-1, 3, 4, 4])]), 'stage1', ['N', 3, 4, 4]);
  const s2 = g.node('Tanh', [g.node('Gemm', [h, g.initializer('w2', rand(d * 192, 3).map((v) => v * 3), [d, 192])])]);
  g.output(g.node('Reshape', [s2, g.ints('sh2', [-1, 3, 8, 8])]), 'stage2', ['N', 3, 8, 8]);
  return g.toModel();
}

function wganGraph(): Uint8Array {
  const g = new GraphBuilder('toy_wgan');
  const z = g.input('z', ['N', Z]);
  const y = g.node('Tanh', [g.node('Gemm', [z, g.initializer('w', rand(Z * 48, 4).map((v) => v * 3), [Z, 48])])]);
  g.output(g.node('Reshape', [y, g.ints('sh', [-1, 3, 4, 4])]), 'image', ['N', 3, 4, 4]);
  return g.toModel();
}

const captions = ['a red circle on the left', 'a blue square at the top', 'a green star in the center'];
const vocabulary = buildVocabulary(captions);
const textSpec = { vocabulary, maxTokens: L, maxChars: 200 };

let root: string;
let rt: Runtime;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pinhole-gan-'));
  const base = { input: { width: 8, height: 8, channels: 3, layout: 'NCHW' }, preprocess: 'resize', names: [], source: 'pinhole-train' };
  await mkdir(join(root, 'sg'));
  await writeFile(join(root, 'sg', 'model.onnx'), stackganGraph(vocabulary.length));
  await writeFile(join(root, 'sg', 'model.json'), JSON.stringify({
    ...base, name: 'sg', kind: 'stackgan', onnx: { input: 'tokens', outputs: ['stage1', 'stage2'] },
    text: textSpec, inputs: { tokens: 'tokens', noise: 'z', eps: 'eps' }, zDim: Z, cDim: C,
    stages: { 1: { output: 'stage1', size: 4 }, 2: { output: 'stage2', size: 8 } },
  }));
  await mkdir(join(root, 'wg'));
  await writeFile(join(root, 'wg', 'model.onnx'), wganGraph());
  await writeFile(join(root, 'wg', 'model.json'), JSON.stringify({
    ...base, input: { width: 4, height: 4, channels: 3, layout: 'NCHW' }, name: 'wg', kind: 'wgan',
    inputs: { noise: 'z' }, zDim: Z, output: 'image',
  }));
  // a stackgan folder whose model.json lacks the tokenizer: must fail to load, with a reason
  await mkdir(join(root, 'broken'));
  await writeFile(join(root, 'broken', 'model.onnx'), stackganGraph(vocabulary.length));
  await writeFile(join(root, 'broken', 'model.json'), JSON.stringify({ ...base, name: 'broken', kind: 'stackgan' }));
  rt = await Runtime.create({ modelsDir: root, log: quiet });
}, 60_000);

afterAll(async () => {
  await rt?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

async function pixels(png: Uint8Array): Promise<{ width: number; height: number; data: Buffer }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

async function expectPinhole(p: Promise<unknown>, status: number, re: RegExp): Promise<void> {
  const e = await p.then(() => undefined, (x) => x);
  expect(e).toBeInstanceOf(PinholeError);
  expect((e as PinholeError).status).toBe(status);
  expect((e as Error).message).toMatch(re);
}

describe('tokenizer', () => {
  it('lower-cases, splits on non-letters, pads, maps unknown words to UNK and cuts at maxTokens', () => {
    expect(words('A Red-circle, on THE left!')).toEqual(['a', 'red', 'circle', 'on', 'the', 'left']);
    expect(vocabulary.slice(0, 2)).toEqual([PAD, UNK]);
    const e = encodeText('a purple circle', textSpec);
    expect(Array.from(e.ids)).toEqual([vocabulary.indexOf('a'), 1, vocabulary.indexOf('circle'), 0, 0, 0]);
    expect(e.unknown).toEqual(['purple']);
    const long = encodeText('a red circle on the left and more', textSpec);
    expect(long.dropped).toBe(2);
    expect(() => checkText('', textSpec)).toThrow(/empty/);
    expect(() => checkText('   ', textSpec)).toThrow(/empty/);
    expect(() => checkText('x'.repeat(201), textSpec)).toThrow(/at most 200/);
    expect(() => checkText('zebra unicorn', textSpec)).toThrow(/none of the words/);
    expect(() => checkText(42, textSpec)).toThrow(/string/);
  });
});

describe('seeded noise', () => {
  it('is a pure function of (seed, stream, item), roughly standard normal, and streams differ', () => {
    const a = seededNormals(7, 1, 0, 20001);
    expect(Array.from(seededNormals(7, 1, 0, 20001))).toEqual(Array.from(a));
    expect(Array.from(seededNormals(8, 1, 0, 5))).not.toEqual(Array.from(a.slice(0, 5)));
    expect(Array.from(seededNormals(7, 2, 0, 5))).not.toEqual(Array.from(a.slice(0, 5)));
    expect(Array.from(seededNormals(7, 1, 1, 5))).not.toEqual(Array.from(a.slice(0, 5)));
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
    expect(a.every(Number.isFinite)).toBe(true);
  });

  it('tiles images into a grid with a white gutter; toRgb maps [-1, 1] to [0, 255]', () => {
    const { images, width, height } = toRgb({ type: 'float32', dims: [1, 3, 1, 2], data: Float32Array.of(-1, 1, 0, 0, 1, -2) });
    expect([width, height]).toEqual([2, 1]);
    expect(Array.from(images[0])).toEqual([0, 128, 255, 255, 128, 0]);
    const g = tile([Uint8Array.of(1, 1, 1), Uint8Array.of(2, 2, 2), Uint8Array.of(3, 3, 3)], 1, 1, 1);
    expect([g.width, g.height]).toEqual([3, 3]);
    expect(Array.from(g.rgb.subarray(0, 9))).toEqual([1, 1, 1, 255, 255, 255, 2, 2, 2]);
  });
});

describe('Runtime.generate / Runtime.sample', () => {
  it('refuses to load a stackgan folder without a tokenizer, and says why', () => {
    const info = rt.model('broken');
    expect(info?.status).toBe('error');
    expect(info?.error).toMatch(/text/);
  });

  it('one seed gives one image (byte-identical PNG); other seeds, texts and stages differ', async () => {
    const a = await rt.generate('sg', { text: 'a red circle on the left', seed: 123 });
    const b = await rt.generate('sg', { text: 'a red circle on the left', seed: 123 });
    expect(a.seed).toBe(123);
    expect(Buffer.from(a.png).equals(Buffer.from(b.png))).toBe(true);
    const pa = await pixels(a.png);
    expect([pa.width, pa.height]).toEqual([8, 8]);
    const other = await pixels((await rt.generate('sg', { text: 'a red circle on the left', seed: 124 })).png);
    expect(other.data.equals(pa.data)).toBe(false);
    const text2 = await pixels((await rt.generate('sg', { text: 'a blue square at the top', seed: 123 })).png);
    expect(text2.data.equals(pa.data)).toBe(false);
    const s1 = await pixels((await rt.generate('sg', { text: 'a red circle on the left', seed: 123, stage: 1 })).png);
    expect([s1.width, s1.height]).toEqual([4, 4]);
    // no seed: a random one, reported, and reusing it reproduces the image
    const r = await rt.generate('sg', { text: 'a green star in the center' });
    expect(Number.isInteger(r.seed)).toBe(true);
    const again = await rt.generate('sg', { text: 'a green star in the center', seed: r.seed });
    expect(Buffer.from(again.png).equals(Buffer.from(r.png))).toBe(true);
  });

  it('samples a grid whose tile k is sample k on its own', async () => {
    const one = await pixels((await rt.sample('wg', { seed: 5 })).png);
    expect([one.width, one.height]).toEqual([4, 4]);
    const grid = await pixels((await rt.sample('wg', { seed: 5, n: 4 })).png);
    expect([grid.width, grid.height]).toEqual([10, 10]);
    for (let y = 0; y < 4; y++) {
      expect(grid.data.subarray(y * 30, y * 30 + 12).equals(one.data.subarray(y * 12, y * 12 + 12))).toBe(true);
    }
    const second = await pixels((await rt.sample('wg', { seed: 5, n: 4 })).png);
    expect(second.data.equals(grid.data)).toBe(true);
  });

  it('bad requests are 4xx PinholeErrors', async () => {
    await expectPinhole(rt.generate('sg', { text: '' }), 400, /empty/);
    await expectPinhole(rt.generate('sg', { text: 'a '.repeat(500) }), 400, /at most/);
    await expectPinhole(rt.generate('sg', { text: 'a red circle', seed: -1 }), 400, /seed/);
    await expectPinhole(rt.generate('sg', { text: 'a red circle', seed: 1.5 }), 400, /seed/);
    await expectPinhole(rt.generate('sg', { text: 'a red circle', seed: 2 ** 32 }), 400, /seed/);
    await expectPinhole(rt.generate('sg', { text: 'a red circle', stage: 3 as 1 }), 400, /stage/);
    await expectPinhole(rt.generate('sg', { text: 'qwerty' }), 400, /none of the words/);
    await expectPinhole(rt.generate('nope', { text: 'a red circle' }), 404, /unknown model/);
    await expectPinhole(rt.generate('wg', { text: 'a red circle' }), 400, /wgan/);
    await expectPinhole(rt.sample('sg', {}), 400, /stackgan/);
    await expectPinhole(rt.sample('wg', { n: 0 }), 400, /n must be/);
    await expectPinhole(rt.sample('wg', { n: 65 }), 400, /n must be/);
    await expectPinhole(rt.sample('nope', {}), 404, /unknown model/);
  });
});

describe('the generation door', () => {
  it('resolves once: the default model of the kind, every value checked at resolve, run trusts the plan', async () => {
    const g = rt.resolveGenerate(undefined, { text: 'a red circle on the left' });
    expect(g.model).toBe('sg');
    expect(g.stage).toBe(2);
    expect(Number.isInteger(g.seed)).toBe(true);
    expect(Array.from(g.ids).some((id) => id > 1)).toBe(true);
    const s = rt.resolveSample(undefined, { n: 2 });
    expect([s.model, s.n]).toEqual(['wg', 2]);
    // a bad request fails at resolve, synchronously, before anything is queued
    expect(() => rt.resolveGenerate('sg', { text: 'qwerty' })).toThrow(/none of the words/);
    expect(() => rt.resolveGenerate('wg', { text: 'a red circle' })).toThrow(/wgan model; text-to-image generation needs a stackgan/);
    expect(() => rt.resolveSample('sg', {})).toThrow(/stackgan model; sampling needs a wgan/);
    expect(() => rt.resolveGenerate('broken', { text: 'a red circle' })).toThrow(PinholeError);
    // the drawn seed is the one that runs: the same image as asking for it by number
    const img = await rt.runGenerate(g);
    expect(img.seed).toBe(g.seed);
    expect(Buffer.from(img.png).equals(Buffer.from((await rt.generate('sg', { text: 'a red circle on the left', seed: g.seed })).png))).toBe(true);
  });

  it('a plan made before a reload runs on the new version, planned again with the same seed', async () => {
    const plan = rt.resolveGenerate('sg', { text: 'a blue square at the top', seed: 77 });
    const before = await rt.runGenerate(plan);
    await rt.reload('sg');
    const after = await rt.runGenerate(plan);
    expect(after.seed).toBe(77);
    expect(Buffer.from(after.png).equals(Buffer.from(before.png))).toBe(true);
    const sp = rt.resolveSample('wg', { seed: 3, n: 2 });
    await rt.reload('wg');
    expect((await rt.runSample(sp)).seed).toBe(3);
  });
});

const BIN = fileURLToPath(new URL('../bin/pinhole.js', import.meta.url));

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('pinhole generate', () => {
  it('writes the same PNG as the runtime for a seed; bad usage exits 2 with one line', async () => {
    const out = join(root, 'out', 'a.png');
    const r = await cli('generate', join(root, 'sg'), 'a red circle on the left', '--out', out, '--seed', '123');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/seed 123/);
    const viaRuntime = await rt.generate('sg', { text: 'a red circle on the left', seed: 123 });
    expect((await readFile(out)).equals(Buffer.from(viaRuntime.png))).toBe(true);

    const grid = join(root, 'out', 'g.png');
    const w = await cli('generate', join(root, 'wg'), '', '--out', grid, '--seed', '5', '--n', '4');
    expect(w.code).toBe(0);
    expect((await readFile(grid)).equals(Buffer.from((await rt.sample('wg', { seed: 5, n: 4 })).png))).toBe(true);

    for (const [args, re] of [
      [['generate', join(root, 'sg'), '', '--out', out], /empty/],
      [['generate', join(root, 'sg'), 'a red circle', '--out', out, '--seed', '-3'], /--seed/],
      [['generate', join(root, 'sg'), 'a red circle', '--out', out, '--stage', '3'], /--stage/],
      [['generate', join(root, 'sg'), 'a red circle', '--out', join(root, 'x.jpg')], /\.png/],
      [['generate', join(root, 'sg'), 'a red circle'], /--out/],
    ] as Array<[string[], RegExp]>) {
      const bad = await cli(...args);
      expect(bad.code, args.join(' ')).toBe(2);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
      expect(bad.stderr).toMatch(re);
    }
    const missing = await cli('generate', join(root, 'nope'), 'a red circle', '--out', out);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no model folder/);
  }, 120_000);
});
