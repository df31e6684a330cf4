import { describe, expect, it } from 'vitest';
import ort from 'onnxruntime-node';
import { GraphBuilder, attr, decodeModel, OPSET } from '../src/onnx/graph.ts';
import { checkModel } from '../src/onnx/check.ts';

describe('GraphBuilder', () => {
  it('builds a conv + leaky relu + reshape graph that ORT loads and computes correctly', async () => {
    const g = new GraphBuilder('t');
    const x = g.input('x', ['N', 1, 3, 3]);
    const w = g.initializer('w', Float32Array.from([0, 0, 0, 0, 2, 0, 0, 0, 0]), [1, 1, 3, 3]);
    const b = g.initializer('b', Float32Array.of(-1), [1]);
    const c = g.node('Conv', [x, w, b], { pads: attr.ints([1, 1, 1, 1]), kernel_shape: attr.ints([3, 3]) });
    const l = g.node('LeakyRelu', [c], { alpha: attr.f(0.1) });
    const r = g.node('Reshape', [l, g.ints('shape', [0, -1])]);
    g.output(r, 'y', ['N', 9]);
    const bytes = g.toModel({ metadata: { kind: 'test' } });
    expect(Number(decodeModel(bytes).opsetImport[0].version)).toBe(OPSET);
    expect(await checkModel(bytes)).toEqual({ inputs: ['x'], outputs: ['y'] });

    const s = await ort.InferenceSession.create(bytes);
    const input = Float32Array.from({ length: 9 }, (_, i) => i - 4);
    const out = await s.run({ x: new ort.Tensor('float32', input, [1, 1, 3, 3]) });
    const y = out.y.data as Float32Array;
    const want = Array.from(input, (v) => { const z = 2 * v - 1; return z > 0 ? z : 0.1 * z; });
    for (let i = 0; i < 9; i++) expect(y[i]).toBeCloseTo(want[i], 6);
  });

  it('rejects initializers whose data does not fill their dims, and duplicate input names', () => {
    const g = new GraphBuilder();
    expect(() => g.initializer('w', new Float32Array(5), [2, 3])).toThrow(/do not fill/);
    g.input('x', [1]);
    expect(() => g.input('x', [1])).toThrow(/already used/);
  });

  it('a graph referencing a missing tensor fails the ORT check', async () => {
    const g = new GraphBuilder();
    g.input('x', [1]);
    g.output(g.node('Relu', ['nope']), 'y', [1]);
    await expect(checkModel(g.toModel())).rejects.toThrow();
  });
});
