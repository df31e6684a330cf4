// The Winograd pass (src/onnx/winograd): rewritten convolutions give ORT's plain Conv output within
// Winograd's rounding, on odd sizes, with and without bias, a LeakyRelu after, 'same' padding written either
// way and a batch of two; only the convolutions it can rewrite (and the rule picks) are rewritten.
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder, attr, decodeModel, onnx, type Attr } from '../src/onnx/graph.ts';
import { rewriteSites } from '../src/onnx/winograd/rewrite.ts';
import { applyWinograd, candidates, DEFAULT_RULE, inferShapes, tileFor, type TileSize, type WinogradRule } from '../src/onnx/winograd/index.ts';
import { inputTransformKernel, matrices, outputTransformMatrix, transformWeights } from '../src/onnx/winograd/transforms.ts';
import { rng, uniform } from './helpers/random.ts';

/** Seeded uniform values in [-s, s): the same weights in every run. */
const random = (n: number, seed: number, s = 1) => uniform(n, rng(seed), s);

const EVERY: WinogradRule = { minChannels: 1, minInputValues: 1, tile: 4 };

interface ConvCase {
  C: number;
  K: number;
  H: number;
  W: number;
  bias?: boolean;
  leaky?: boolean;
  /** 'same' written as auto_pad instead of pads */
  autoPad?: boolean;
}

/** x -> Conv 3x3 (+ LeakyRelu) -> y, and a second 3x3 Conv on y so that rewritten nodes feed each other. */
function convModel(c: ConvCase, seed: number, extra: Record<string, Attr> = {}): Uint8Array {
  const g = new GraphBuilder('t');
  const x = g.input('x', ['N', c.C, c.H, c.W]);
  const w = g.initializer('w', random(c.K * c.C * 9, seed, Math.sqrt(3 / (9 * c.C))), [c.K, c.C, 3, 3]);
  const inputs = c.bias ? [x, w, g.initializer('b', random(c.K, seed + 1, 0.5), [c.K])] : [x, w];
  const pads: Record<string, Attr> = c.autoPad ? { auto_pad: attr.s('SAME_UPPER') } : { pads: attr.ints([1, 1, 1, 1]) };
  let y = g.node('Conv', inputs, { kernel_shape: attr.ints([3, 3]), ...pads, ...extra }, 'conv');
  if (c.leaky) y = g.node('LeakyRelu', [y], { alpha: attr.f(0.1) });
  const w2 = g.initializer('w2', random(c.K * c.K * 9, seed + 2, Math.sqrt(3 / (9 * c.K))), [c.K, c.K, 3, 3]);
  const z = g.node('Conv', [y, w2], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }, 'conv2');
  g.output(z, 'y', ['N', c.K, c.H, c.W]);
  return g.toModel();
}

/** Every convolution the pass can rewrite, rewritten with this tile whatever tileFor would pick. */
function withTile(model: Uint8Array, tile: TileSize) {
  const m = decodeModel(model);
  rewriteSites(m.graph!, candidates(m.graph!, EVERY).flatMap((c) => (c.site ? [c.site] : [])), () => tile);
  return m;
}

async function run(model: Uint8Array, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
  try {
    return (await s.run({ x: new ort.Tensor('float32', x, dims) })).y.data as Float32Array;
  } finally {
    await s.release();
  }
}

function relErr(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(a[i]));
  }
  expect(m).toBeGreaterThan(0.1); // an all-zero output would prove nothing
  return d / m;
}

describe('transform matrices', () => {
  for (const m of [2, 3, 4] as const) {
    it(`F(${m}x${m},3x3) computes a 1-D correlation exactly (in double precision)`, () => {
      // y = A^T [(G g) . (B^T d)]: the 1-D identity the 2-D transforms are products of
      const w = matrices(m);
      const d = Array.from({ length: w.a }, (_, i) => Math.sin(i + 1));
      const g = [0.3, -1.2, 0.7];
      const Gg = w.G.map((r) => r[0] * g[0] + r[1] * g[1] + r[2] * g[2]);
      const Bd = w.BT.map((r) => r.reduce((s, v, j) => s + v * d[j], 0));
      const y = w.AT.map((r) => r.reduce((s, v, j) => s + v * Gg[j] * Bd[j], 0));
      for (let i = 0; i < m; i++) expect(y[i]).toBeCloseTo(g[0] * d[i] + g[1] * d[i + 1] + g[2] * d[i + 2], 12);
    });
  }

  it('the constant tensors have the sizes the rewrite declares', () => {
    const w = matrices(4);
    expect(inputTransformKernel(w).length).toBe(36 * 36);
    expect(outputTransformMatrix(w).length).toBe(16 * 36);
    expect(transformWeights(w, new Float32Array(5 * 3 * 9), 5, 3).length).toBe(36 * 5 * 3);
  });
});

describe('rewritten convolutions equal ORT\'s Conv', () => {
  const cases: ConvCase[] = [
    { C: 16, K: 24, H: 13, W: 13, bias: true, leaky: true },
    { C: 8, K: 16, H: 12, W: 12, bias: false },
    { C: 5, K: 7, H: 7, W: 11, bias: true, autoPad: true },
    { C: 32, K: 16, H: 1, W: 5, bias: true, leaky: true },
    { C: 3, K: 4, H: 26, W: 9 },
  ];
  for (const [i, c] of cases.entries()) {
    for (const tile of [2, 3, 4] as const) {
      it(`F(${tile}x${tile}): ${c.C}->${c.K} at ${c.H}x${c.W}${c.bias ? ', bias' : ''}${c.leaky ? ', LeakyRelu' : ''}${c.autoPad ? ', auto_pad' : ''}, batches 1 and 2`, async () => {
        const model = convModel(c, 10 + i);
        expect(applyWinograd(model, EVERY).rewritten).toEqual(['conv_node', 'conv2_node']);
        const r = withTile(model, tile);
        expect(r.graph!.node!.filter((n) => n.name!.endsWith(`_wino${tile}_m_node`))).toHaveLength(2);
        expect(r.graph!.node!.some((n) => n.opType === 'Conv' && n.name === 'conv_node')).toBe(false);
        const bytes = onnx.ModelProto.encode(r).finish();
        for (const n of [1, 2]) {
          const dims = [n, c.C, c.H, c.W];
          const x = random(n * c.C * c.H * c.W, 100 + i + n);
          const err = relErr(await run(model, x, dims), await run(bytes, x, dims));
          // float32 Winograd rounding: measured ~1e-6 (F2) and ~1e-5 (F4) of the largest output
          expect(err).toBeLessThan(tile === 2 ? 1e-5 : 1e-4);
        }
      });
    }
  }
});

describe('which convolutions are rewritten', () => {
  const base: ConvCase = { C: 8, K: 8, H: 13, W: 13, bias: true };
  const reasonOf = (model: Uint8Array, rule: WinogradRule = EVERY) => candidates(decodeModel(model).graph!, rule).find((c) => c.node === 'conv_node')!;

  it('leaves alone what it cannot rewrite, saying why', () => {
    expect(reasonOf(convModel(base, 1, { strides: attr.ints([2, 2]) })).reason).toBe('stride is not 1');
    expect(reasonOf(convModel(base, 1, { dilations: attr.ints([2, 2]) })).reason).toBe('dilated');
    expect(reasonOf(convModel(base, 1, { group: attr.i(2) })).reason).toMatch(/grouped|channels/);
    expect(reasonOf(convModel(base, 1, { pads: attr.ints([0, 0, 0, 0]) })).reason).toBe('padding is not 1 on every side');
    expect(reasonOf(convModel(base, 1, { pads: attr.ints([1, 1, 2, 2]) })).reason).toBe('padding is not 1 on every side');
    expect(reasonOf(convModel(base, 1)).site).toBeDefined();
  });

  it('weights that are also a graph input (a default the caller may override) are left alone', () => {
    const m = decodeModel(convModel(base, 1));
    m.graph!.input!.push({ name: 'w', type: m.graph!.input![0].type });
    expect(candidates(m.graph!, EVERY).find((c) => c.node === 'conv_node')!.reason).toBe('weights or bias can be fed at run time');
    expect(candidates(m.graph!, EVERY).find((c) => c.node === 'conv2_node')!.site).toBeDefined();
  });

  it('a 1x1 kernel, weights computed at run time and an unknown input size are left alone', () => {
    const g = new GraphBuilder('t');
    const x = g.input('x', [1, 4, 'H', 'W']);
    const w1 = g.initializer('w1', random(4 * 4, 1), [4, 4, 1, 1]);
    const a = g.node('Conv', [x, w1], { kernel_shape: attr.ints([1, 1]) }, 'one');
    const w3 = g.node('Identity', [g.initializer('w3', random(4 * 4 * 9, 2), [4, 4, 3, 3])]);
    const b = g.node('Conv', [a, w3], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }, 'dyn');
    const w4 = g.initializer('w4', random(4 * 4 * 9, 3), [4, 4, 3, 3]);
    const c = g.node('Conv', [b, w4], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }, 'unsized');
    g.output(c, 'y', [1, 4, 'H', 'W']);
    const found = candidates(decodeModel(g.toModel()).graph!, EVERY);
    expect(found.map((f) => [f.node, f.reason])).toEqual([
      ['one_node', 'not a 3x3 kernel'],
      ['dyn_node', 'weights are not a float32 initializer'],
      ['unsized_node', 'input shape unknown'],
    ]);
  });

  it('the rule: channels and size', () => {
    expect(reasonOf(convModel(base, 1), { minChannels: 16, minInputValues: 1, tile: 4 }).reason).toBe('8 input channels (< 16)');
    expect(reasonOf(convModel(base, 1), { minChannels: 8, minInputValues: 8 * 169 + 1, tile: 4 }).reason).toBe('8x13x13 input (< 1353 values)');
    expect(reasonOf(convModel(base, 1), { minChannels: 8, minInputValues: 8 * 169, tile: 4 }).site).toMatchObject({ C: 8, H: 13, W: 13, K: 8 });
    // the default rule leaves small layers alone: nothing to rewrite, the bytes come back as they were
    const model = convModel(base, 1);
    const r = applyWinograd(model, DEFAULT_RULE);
    expect(r.rewritten).toEqual([]);
    expect(r.bytes).toBe(model);
  });

  it('the tile: the fewest multiplications, F(4x4) only within the weight bound', () => {
    const at13 = { H: 13, W: 13 };
    expect(tileFor(DEFAULT_RULE, { K: 1024, C: 1024, ...at13 })).toBe(3);
    expect(tileFor(DEFAULT_RULE, { K: 512, C: 256, ...at13 })).toBe(4);
    expect(tileFor({ ...DEFAULT_RULE, maxLargeTileWeights: undefined }, { K: 1024, C: 1024, ...at13 })).toBe(4);
    expect(tileFor({ ...DEFAULT_RULE, tile: 2 }, { K: 8, C: 8, ...at13 })).toBe(2);
    // 6x6: F3 4 tiles x 25 = 100 < F2 9 x 16 = 144 and F4 4 x 36; 4x4: F4 1 x 36 < F2 4 x 16; 2x2: F2 1 x 16
    const any = { ...DEFAULT_RULE, maxLargeTileWeights: undefined };
    expect(tileFor(any, { K: 8, C: 8, H: 6, W: 6 })).toBe(3);
    expect(tileFor(any, { K: 8, C: 8, H: 4, W: 4 })).toBe(4);
    expect(tileFor(any, { K: 8, C: 8, H: 2, W: 2 })).toBe(2);
    const m = convModel({ C: 16, K: 16, H: 8, W: 8 }, 3); // F4 4 x 36 = 144 < F3 9 x 25 < F2 16 x 16
    const nodes = (rule: WinogradRule) => decodeModel(applyWinograd(m, rule).bytes).graph!.node!.map((n) => n.name!);
    expect(nodes({ ...EVERY, maxLargeTileWeights: 255 }).filter((n) => n.includes('_wino3')).length).toBeGreaterThan(0);
    expect(nodes({ ...EVERY, maxLargeTileWeights: 256 }).filter((n) => n.includes('_wino4')).length).toBeGreaterThan(0);
  });

  it('shapes through pools, concat, reshape and space-to-depth', () => {
    const g = new GraphBuilder('t');
    const x = g.input('x', ['N', 3, 416, 416]);
    const p = g.node('MaxPool', [x], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) });
    const p2 = g.node('MaxPool', [p], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([1, 1]), pads: attr.ints([0, 0, 1, 1]) });
    const s2d = g.node('SpaceToDepth', [p2], { blocksize: attr.i(2) });
    const cat = g.node('Concat', [s2d, s2d], { axis: attr.i(1) });
    const r = g.node('Reshape', [cat, g.ints('shape', [0, 12, -1, 104])]);
    g.output(r, 'y', ['N', 24, 104, 104]);
    const shapes = inferShapes(decodeModel(g.toModel()).graph!);
    expect(shapes.get(p)).toEqual([null, 3, 208, 208]);
    expect(shapes.get(p2)).toEqual([null, 3, 208, 208]);
    expect(shapes.get(s2d)).toEqual([null, 12, 104, 104]);
    expect(shapes.get(cat)).toEqual([null, 24, 104, 104]);
    expect(shapes.get(r)).toEqual([null, 12, null, 104]);
  });
});
