// pinhole quantize: the QDQ graph it writes (BatchNorm folded, Q/DQ around the convolutions, per-channel
// int8 weights, int32 biases), that ONNX Runtime fuses it into int8 kernels, that its output stays close
// to the float model's on real, runtime-preprocessed images, and the command's usage errors.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, decodeModel, GraphBuilder, onnx } from '../src/onnx/graph.ts';
import { klThreshold } from '../src/onnx/quantize/calibrate.ts';
import { poolBeforeActivation } from '../src/onnx/quantize/commute.ts';
import { foldBatchNorms } from '../src/onnx/quantize/fold.ts';
import { quantizeModel } from '../src/onnx/quantize/index.ts';
import { activationQParams, quantizeWeights } from '../src/onnx/quantize/qdq.ts';
import { spaceToDepthImageLayers } from '../src/onnx/quantize/space-to-depth.ts';
import type { Graph } from '../src/onnx/quantize/tensors.ts';
import { preprocess } from '../src/runtime/preprocess.ts';
import { sessionOptions } from '../src/runtime/ort-session.ts';
import { encodePng } from '../src/train/data/image.ts';
import { openDataset } from '../src/train/data/open.ts';
import { regionManifest, writeModel } from './runtime-fixtures.ts';
import { rng, uniform } from './helpers/random.ts';

const BIN = fileURLToPath(new URL('../bin/pinhole.js', import.meta.url));
const SIZE = 96;

function pinhole(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Conv-BN-leaky-maxpool blocks (BN statistics away from identity), a two-branch Concat, a 1x1 head. */
function detectorNet(): Uint8Array {
  const r = rng(5);
  const g = new GraphBuilder('quant-test');
  let x = g.input('image', ['N', 3, SIZE, SIZE]);
  let cin = 3;
  const block = (cout: number, k: number) => {
    const w = g.initializer('w', uniform(cout * cin * k * k, r, Math.sqrt(6 / (cin * k * k))), [cout, cin, k, k]);
    const c = g.node('Conv', [x, w], { kernel_shape: attr.ints([k, k]), pads: attr.ints(Array(4).fill((k - 1) / 2)) }, 'conv');
    const bn = ['scale', 'bias', 'mean', 'var'].map((n) => g.initializer(n, Float32Array.from({ length: cout }, () => {
      const u = r();
      return n === 'scale' ? 0.5 + u : n === 'bias' ? u - 0.5 : n === 'mean' ? (u - 0.5) * 0.4 : 0.5 + u;
    }), [cout]));
    const b = g.node('BatchNormalization', [c, ...bn], { epsilon: attr.f(1e-5) }, 'bn');
    x = g.node('LeakyRelu', [b], { alpha: attr.f(0.1) }, 'leaky');
    cin = cout;
  };
  const pool = () => { x = g.node('MaxPool', [x], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) }, 'pool'); };
  block(16, 3); pool();
  block(32, 3); pool();
  block(32, 3); pool();
  const branch = x;
  block(32, 3);
  const main = x;
  x = g.node('Concat', [branch, main], { axis: attr.i(1) }, 'route');
  cin = 64;
  block(64, 1);
  const w = g.initializer('w_head', uniform(14 * cin, r, Math.sqrt(3 / cin)), [14, cin, 1, 1]);
  const bias = g.initializer('b_head', uniform(14, r, 0.1), [14]);
  x = g.node('Conv', [x, w, bias], { kernel_shape: attr.ints([1, 1]) }, 'head');
  g.output(x, 'region', ['N', 14, SIZE / 8, SIZE / 8]);
  return g.toModel();
}

let root: string;
let fp32: Uint8Array;
let images: Float32Array[];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pinhole-quant-'));
  fp32 = detectorNet();
  // generated scenes through the runtime's own preprocessing: the tensors the server feeds the model
  const ds = await openDataset('synth:997:12:160');
  const spec = { width: SIZE, height: SIZE, channels: 3, layout: 'NCHW' as const };
  images = [];
  for (let i = 0; i < ds.size; i++) {
    const s = await ds.get(i);
    images.push((await preprocess(await encodePng(s.rgb, s.width, s.height), spec, 'letterbox')).data);
  }
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The operators of the graph ORT runs for an int8 folder (the runtime's own session options), in order. */
async function optimizedOps(bytes: Uint8Array | string, file: string): Promise<string[]> {
  const s = await ort.InferenceSession.create(bytes as Uint8Array, { ...sessionOptions('cpu', { intraOpThreads: 1, quantized: true }), optimizedModelFilePath: file });
  await s.release();
  return decodeModel(readFileSync(file)).graph!.node!.map((n) => n.opType!);
}

/** What ORT runs from the first QLinearConv to the last: only int8 kernels in NHWC, no float step, no reorder. */
function int8Chain(ops: readonly string[]): string[] {
  const first = ops.indexOf('QLinearConv'), last = ops.lastIndexOf('QLinearConv');
  expect(first).toBeGreaterThanOrEqual(0);
  return ops.slice(first, last + 1);
}

async function run(bytes: Uint8Array, x: Float32Array, level: 'disabled' | 'all' = 'all'): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: level });
  try {
    const out = await s.run({ image: new ort.Tensor('float32', x, [1, 3, SIZE, SIZE]) });
    return out.region.data as Float32Array;
  } finally {
    await s.release();
  }
}

const calib = () => images.slice(0, 8);
const held = () => images.slice(8);

describe('quantizer building blocks', () => {
  it('folding BatchNorm into the Conv changes no output (within float rounding)', async () => {
    const m = decodeModel(fp32);
    expect(foldBatchNorms(m.graph as Graph)).toBe(5);
    expect(m.graph!.node!.some((n) => n.opType === 'BatchNormalization')).toBe(false);
    const folded = onnx.ModelProto.encode(m).finish();
    for (const x of held()) {
      const a = await run(fp32, x, 'disabled'), b = await run(folded, x, 'disabled');
      let max = 0;
      for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
      expect(max).toBeLessThan(1e-4);
    }
  });

  it('a pool moved before its activation changes no output, and the first layer kept float keeps its order', async () => {
    const m = decodeModel(fp32);
    const g = m.graph as Graph;
    const keep = new Set(['leaky', 'pool'].map((k) => g.node!.find((n) => n.opType === (k === 'leaky' ? 'LeakyRelu' : 'MaxPool'))!.name!));
    expect(poolBeforeActivation(g, keep)).toBe(2);
    const ops = g.node!.map((n) => n.opType).filter((o) => o === 'LeakyRelu' || o === 'MaxPool');
    expect(ops).toEqual(['LeakyRelu', 'MaxPool', 'MaxPool', 'LeakyRelu', 'MaxPool', 'LeakyRelu', 'LeakyRelu', 'LeakyRelu']);
    const swapped = onnx.ModelProto.encode(m).finish();
    for (const x of held()) {
      const a = await run(fp32, x, 'disabled'), b = await run(swapped, x, 'disabled');
      let max = 0;
      for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
      expect(max).toBe(0); // a max commutes with a non-decreasing function exactly
    }
  });

  it('the image layer in SpaceToDepth form (2x2 conv on 12 channels, max over the pool phases) computes the same output', async () => {
    const folded = decodeModel(fp32);
    foldBatchNorms(folded.graph as Graph);
    const m = decodeModel(onnx.ModelProto.encode(folded).finish());
    const g = m.graph as Graph;
    const conv1 = g.node!.find((n) => n.opType === 'Conv')!.name!;
    expect(spaceToDepthImageLayers(g)).toEqual([conv1]);
    const ops = g.node!.map((n) => n.opType);
    expect(ops.slice(0, 4)).toEqual(['Pad', 'SpaceToDepth', 'Conv', 'Transpose']);
    // the full-resolution pool is gone: the first MaxPool is the one over the phases (1x4)
    const pools = g.node!.filter((n) => n.opType === 'MaxPool');
    expect(pools).toHaveLength(3);
    expect(pools[0].attribute!.find((a) => a.name === 'kernel_shape')!.ints!.map(Number)).toEqual([1, 4]);
    const w = new Map(g.initializer!.map((t) => [t.name!, t])).get(g.node![2].input![1])!;
    expect(w.dims!.map(Number)).toEqual([4 * 16, 12, 2, 2]);
    const rewritten = onnx.ModelProto.encode(m).finish(), plain = onnx.ModelProto.encode(folded).finish();
    for (const x of held()) {
      const a = await run(plain, x, 'disabled'), b = await run(rewritten, x, 'disabled');
      let max = 0;
      for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
      expect(max).toBeLessThan(1e-5);
    }
  });

  it('SpaceToDepth leaves image layers it cannot rewrite exactly as they are', () => {
    const layer = (k: number, stride: number, size: number, pool: boolean) => {
      const g = new GraphBuilder('one');
      const x = g.input('image', ['N', 3, size, size]);
      const c = g.node('Conv', [x, g.initializer('w', uniform(8 * 3 * k * k, rng(1)), [8, 3, k, k])],
        { kernel_shape: attr.ints([k, k]), pads: attr.ints(Array(4).fill((k - 1) / 2)), strides: attr.ints([stride, stride]) });
      const a = g.node('LeakyRelu', [c], { alpha: attr.f(0.1) });
      const y = pool ? g.node('MaxPool', [a], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) }) : a;
      g.output(y, 'y', ['N', 8, size / stride / (pool ? 2 : 1), size / stride / (pool ? 2 : 1)]);
      return decodeModel(g.toModel()).graph as Graph;
    };
    expect(spaceToDepthImageLayers(layer(3, 1, 32, true))).toHaveLength(1);
    expect(spaceToDepthImageLayers(layer(1, 1, 32, true))).toEqual([]); // 1x1 kernel
    expect(spaceToDepthImageLayers(layer(3, 2, 32, true))).toEqual([]); // strided
    expect(spaceToDepthImageLayers(layer(3, 1, 32, false))).toEqual([]); // no pool after it
    expect(spaceToDepthImageLayers(layer(3, 1, 30, true))).toHaveLength(1);
    const odd = layer(3, 1, 32, true);
    odd.input![0].type!.tensorType!.shape!.dim![3] = { dimValue: 33 };
    expect(spaceToDepthImageLayers(odd)).toEqual([]); // odd width: the pool drops a column SpaceToDepth cannot
  });

  it('weights: symmetric int8 per channel, the largest |w| of each channel at +-127', () => {
    const w = Float32Array.of(-1, 0.3, 0.7, /* channel 1 */ 0.01, 0.03, -0.04, /* channel 2 */ 0, 0, 0);
    const { q, scales } = quantizeWeights(w, 3, (i) => Math.floor(i / 3));
    expect([...scales].map((s) => +s.toFixed(7))).toEqual([+(1 / 127).toFixed(7), +(0.04 / 127).toFixed(7), 1]);
    expect([...q]).toEqual([-127, 38, 89, 32, 95, -127, 0, 0, 0]);
  });

  it('entropy calibration clips a lone outlier and keeps a distribution that fills its range', () => {
    const bulk = new Float64Array(2048);
    for (let j = 0; j < 400; j++) bulk[j] = Math.round(1e5 * Math.exp(-((j / 120) ** 2))); // |x| of a bell, 1/5 of the range
    bulk[2047] = 1; // one value far out
    const t = klThreshold(bulk);
    expect(t).toBeGreaterThan(0.1);
    expect(t).toBeLessThan(0.3);
    expect(klThreshold(new Float64Array(2048).fill(50))).toBeGreaterThan(0.95);
  });

  it('activations: zero exactly representable, the calibrated range spread over the type', () => {
    const u = activationQParams({ min: -0.1, max: 2.45 }, 'uint8');
    expect(u.scale).toBeCloseTo(2.55 / 255, 9);
    expect(u.zeroPoint).toBe(10);
    const pos = activationQParams({ min: 0.2, max: 1 }, 'uint8'); // zero pulled into the range
    expect(pos.zeroPoint).toBe(0);
    expect(pos.scale).toBeCloseTo(1 / 255, 9);
    const s = activationQParams({ min: -1, max: 1 }, 'int8');
    expect(s.zeroPoint).toBe(0);
  });
});

describe('quantizeModel on a small detector', () => {
  let q: Awaited<ReturnType<typeof quantizeModel>>;
  beforeAll(async () => {
    q = await quantizeModel(fp32, { input: 'image', inputDims: [3, SIZE, SIZE], calibration: calib(), method: 'minmax', activations: 'uint8', keepFloat: [] });
  });

  it('QDQ around every convolution, per-channel int8 weights, int32 biases', () => {
    const g = decodeModel(q.bytes).graph!;
    const producer = new Map(g.node!.flatMap((n) => n.output!.map((o) => [o, n] as const)));
    const inits = new Map(g.initializer!.map((t) => [t.name!, t]));
    const convs = g.node!.filter((n) => n.opType === 'Conv');
    expect(convs).toHaveLength(6);
    expect(g.node!.some((n) => n.opType === 'BatchNormalization')).toBe(false);
    for (const c of convs) {
      const [x, w, b] = c.input!.map((i) => producer.get(i));
      expect(x?.opType).toBe('DequantizeLinear');
      expect(w?.opType).toBe('DequantizeLinear');
      expect(b?.opType).toBe('DequantizeLinear');
      const wq = inits.get(w!.input![0])!, ws = inits.get(w!.input![1])!;
      expect(wq.dataType).toBe(onnx.TensorProto.DataType.INT8);
      expect(ws.dims!.map(Number)).toEqual([Number(wq.dims![0])]); // one scale per output channel
      expect(Number(w!.attribute!.find((a) => a.name === 'axis')?.i)).toBe(0);
      expect(inits.get(b!.input![0])!.dataType).toBe(onnx.TensorProto.DataType.INT32);
      // the activation feeding the conv was quantized to uint8 by a QuantizeLinear
      const qx = producer.get(x!.input![0])!;
      expect(qx.opType).toBe('QuantizeLinear');
      expect(inits.get(qx.input![2])!.dataType).toBe(onnx.TensorProto.DataType.UINT8);
      // and its output is quantized too (the Q that lets ORT fuse a QLinearConv)
      const consumers = g.node!.filter((n) => n.input!.includes(c.output![0]));
      expect(consumers.map((n) => n.opType)).toEqual(['QuantizeLinear']);
    }
    // the bias scale is the input scale times each weight scale (what QLinearConv adds in int32)
    const c0 = convs[1];
    const [x, w, b] = c0.input!.map((i) => producer.get(i)!);
    const f32 = (name: string) => new Float32Array(new Uint8Array(inits.get(name)!.rawData!).buffer);
    const sx = f32(x.input![1])[0];
    const sw = f32(w.input![1]);
    const sb = f32(b.input![1]);
    for (let i = 0; i < sw.length; i++) expect(Math.abs(sb[i] / (sx * sw[i]) - 1)).toBeLessThan(1e-6);
  });

  it('ONNX Runtime fuses the QDQ graph into int8 kernels (no float Conv left)', async () => {
    const file = join(root, 'optimized.onnx');
    const s = await ort.InferenceSession.create(q.bytes, { graphOptimizationLevel: 'extended', optimizedModelFilePath: file });
    await s.release();
    const ops = decodeModel(readFileSync(file)).graph!.node!.map((n) => n.opType);
    expect(ops.filter((o) => o === 'QLinearConv')).toHaveLength(6);
    expect(ops).toContain('QLinearLeakyRelu');
    expect(ops).toContain('QLinearConcat');
    expect(ops).not.toContain('Conv');
  });

  it('the graph ORT runs is int8 from the first QLinearConv to the last: no float LeakyRelu, no Transpose or reorder', async () => {
    const k = await quantizeModel(fp32, { input: 'image', inputDims: [3, SIZE, SIZE], calibration: calib(), method: 'percentile', percentile: 99.99, activations: 'uint8', keepFloat: ['first', 'last'] });
    // 'first' keeps nothing float here: the image layer is in SpaceToDepth form, an int8 layer of its own
    expect(k.spaceToDepth).toHaveLength(1);
    expect(k.keptFloat).toEqual(['head_node']);
    const ops = await optimizedOps(k.bytes, join(root, 'chain.onnx'));
    // before the first QLinearConv only the image's rearrangement and quantization, in float
    expect(ops.slice(0, ops.indexOf('QLinearConv'))).toEqual(['Pad', 'SpaceToDepth', 'QuantizeLinear', 'Transpose']);
    const chain = int8Chain(ops);
    expect(new Set(chain)).toEqual(new Set(['QLinearConv', 'QLinearLeakyRelu', 'NhwcMaxPool', 'QLinearConcat', 'Reshape']));
    // the max over the image layer's pool phases: ORT's uint8 NHWC pool between two free reshapes (views)
    expect(chain.slice(0, 5)).toEqual(['QLinearConv', 'Reshape', 'NhwcMaxPool', 'Reshape', 'QLinearLeakyRelu']);
    // every other pool runs on the convolution's output, its activation after it on the pooled quarter
    chain.forEach((o, i) => { if (o === 'NhwcMaxPool' && i > 2) expect([chain[i - 1], chain[i + 1]]).toEqual(['QLinearConv', 'QLinearLeakyRelu']); });
  });

  it('int8 output stays within 4.5% of the float output range on held-out images', async () => {
    // stated tolerance: max |int8 - fp32| <= 4% and mean <= 1% of the float output's range (per image)
    for (const x of held()) {
      const a = await run(fp32, x), b = await run(q.bytes, x);
      let lo = Infinity, hi = -Infinity, max = 0, sum = 0;
      for (let i = 0; i < a.length; i++) {
        lo = Math.min(lo, a[i]); hi = Math.max(hi, a[i]);
        const d = Math.abs(a[i] - b[i]);
        max = Math.max(max, d);
        sum += d;
      }
      if (process.env.PINHOLE_QUANT_DEBUG) console.log(`max ${(max / (hi - lo)).toFixed(4)} mean ${(sum / a.length / (hi - lo)).toFixed(5)} of the range`);
      // 4.5%: with the pools before the activations (commute.ts) the four images measure 2.3 / 4.1 / 2.6 / 2.1%
      // max (means 0.50 / 0.69 / 0.60 / 0.45%), before it 2.4 / 3.1 / 3.2 / 2.7% (means 0.50 / 0.72 / 0.62 / 0.48%)
      expect(max / (hi - lo)).toBeLessThan(0.045);
      expect(sum / a.length / (hi - lo)).toBeLessThan(0.01);
    }
  });

  it("'first,last' keeps the layers at the image and at the output in float32 (image layer not in SpaceToDepth form)", async () => {
    const k = await quantizeModel(fp32, { input: 'image', inputDims: [3, SIZE, SIZE], calibration: calib(), method: 'percentile', percentile: 99.99, activations: 'uint8', keepFloat: ['first', 'last'], spaceToDepth: false });
    expect(k.keptFloat).toHaveLength(2);
    const g = decodeModel(k.bytes).graph!;
    const inits = new Map(g.initializer!.map((t) => [t.name!, t]));
    const convs = g.node!.filter((n) => n.opType === 'Conv');
    expect(convs[0].input![0]).toBe('image');
    expect(inits.get(convs[0].input![1])!.dataType).toBe(onnx.TensorProto.DataType.FLOAT);
    expect(inits.get(convs.at(-1)!.input![1])!.dataType).toBe(onnx.TensorProto.DataType.FLOAT);
    // the head's output is a float tensor straight into the graph output, no Q/DQ
    expect(g.node!.filter((n) => n.input!.includes(convs.at(-1)!.output![0])).map((n) => n.opType)).toEqual(['Identity']);
    // the first layer's activation and pool stay float with it: int8 starts at the second convolution's input
    const ops = g.node!.map((n) => n.opType);
    expect(ops.slice(0, ops.indexOf('QuantizeLinear'))).toEqual(['Conv', 'LeakyRelu', 'MaxPool']);
    expect(g.node![ops.indexOf('QuantizeLinear')].input![0]).toBe(g.node![2].output![0]);
    // ORT would move that QuantizeLinear back above the pool; the runtime's options for int8 models keep it
    const optimized = async (quantized: boolean) => {
      const file = join(root, `opt-${quantized}.onnx`);
      const sess = await ort.InferenceSession.create(k.bytes, { ...sessionOptions('cpu', { intraOpThreads: 1, quantized }), optimizedModelFilePath: file });
      await sess.release();
      const o = decodeModel(readFileSync(file)).graph!.node!.map((n) => n.opType!);
      return o.indexOf('MaxPool') >= 0 && o.indexOf('MaxPool') < o.indexOf('QuantizeLinear');
    };
    expect(await optimized(true)).toBe(true);
    expect(await optimized(false)).toBe(false);
  });
});

describe('pinhole quantize', () => {
  let models: string;
  beforeAll(() => {
    models = join(root, 'models');
    writeModel(models, 'det', fp32, regionManifest('det', SIZE, 2, 2));
    const imgs = join(root, 'calib');
    mkdirSync(imgs);
    return (async () => {
      const ds = await openDataset('synth:996:4:128');
      for (let i = 0; i < ds.size; i++) {
        const s = await ds.get(i);
        writeFileSync(join(imgs, `${i}.png`), await encodePng(s.rgb, s.width, s.height));
      }
    })();
  });

  it('writes an int8 model folder from an image folder, with precision and calibration in model.json', async () => {
    const out = join(root, 'models', 'det-int8');
    const r = await pinhole('quantize', join(models, 'det'), '--calib', join(root, 'calib'), '--out', out, '--no-eval', '--method', 'minmax');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
    expect(m.precision).toBe('int8');
    expect(m.name).toBe('det-int8');
    expect(m.quantization).toMatchObject({ from: 'det', calibration: 'minmax', calibration_images: 4, space_to_depth: ['conv_node'], kept_float: ['head_node'] });
    const ops = decodeModel(readFileSync(join(out, 'model.onnx'))).graph!.node!.map((n) => n.opType);
    expect(ops).toContain('QuantizeLinear');
    expect(ops.slice(0, 2)).toEqual(['Pad', 'SpaceToDepth']);
    // the folder serves: same detection path as the server
    const d = await pinhole('detect', out, join(root, 'calib', '0.png'), '--json');
    expect(d.code).toBe(0);
    expect(JSON.parse(d.stdout).model).toBe('det-int8');
  });

  it('--no-space-to-depth keeps the image layer as it is, in float32 with --keep-float first', async () => {
    const out = join(root, 'models', 'det-int8-plain');
    const r = await pinhole('quantize', join(models, 'det'), '--calib', join(root, 'calib'), '--out', out, '--no-eval', '--method', 'minmax', '--no-space-to-depth');
    expect(r.code).toBe(0);
    const m = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
    expect(m.quantization.space_to_depth).toBeUndefined();
    expect(m.quantization.kept_float).toEqual(['conv_node', 'head_node']);
    expect(decodeModel(readFileSync(join(out, 'model.onnx'))).graph!.node![0].opType).toBe('Conv');
  });

  const usage: Array<[string, () => string[], RegExp]> = [
    ['missing --calib', () => ['quantize', join(models, 'det'), '--out', join(root, 'x')], /--calib/],
    ['bad --method', () => ['quantize', join(models, 'det'), '--calib', 'synth:997:4', '--out', join(root, 'x'), '--method', 'kl'], /--method must be one of/],
    ['bad --calib spec', () => ['quantize', join(models, 'det'), '--calib', 'synth:x:4', '--out', join(root, 'x')], /--calib: bad dataset spec/],
    ['bad --percentile', () => ['quantize', join(models, 'det'), '--calib', 'synth:997:4', '--out', join(root, 'x'), '--percentile', '101'], /--percentile/],
    ['bad --activations', () => ['quantize', join(models, 'det'), '--calib', 'synth:997:4', '--out', join(root, 'x'), '--activations', 'fp16'], /--activations/],
    ['--out the source folder', () => ['quantize', join(models, 'det'), '--calib', 'synth:997:4', '--out', join(models, 'det')], /--out must be a new folder/],
    ['a generator folder', () => ['quantize', 'models/wgan-synth', '--calib', 'synth:997:4', '--out', join(root, 'x')], /quantize takes detectors/],
  ];
  for (const [what, args, msg] of usage) {
    it(`${what}: exit 2, one line on stderr`, async () => {
      const r = await pinhole(...args());
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
    });
  }

  it('a missing model folder is a failure (exit 1), one line', async () => {
    const r = await pinhole('quantize', join(root, 'nope'), '--calib', 'synth:997:4', '--out', join(root, 'x'));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

// darknet's reorg layer as our importer writes it; ORT keeps it in NCHW, with a transpose on each side
const REORG = ['Reshape', 'Transpose'];

describe('shipped int8 folders', () => {
  const shipped = ['yolov1-synth', 'yolov2-synth', 'yolo9000-synth'].filter((m) => existsSync(join('models', `${m}-int8`, 'model.json')));
  for (const m of shipped) {
    it(`models/${m}-int8: int8, scored on its float folder's held-out set, within 0.01 mAP@0.5 of it`, () => {
      const q = JSON.parse(readFileSync(join('models', `${m}-int8`, 'model.json'), 'utf8'));
      const f = JSON.parse(readFileSync(join('models', m, 'model.json'), 'utf8'));
      expect(q.precision).toBe('int8');
      expect(q.quantization.from).toBe(m);
      expect(q.quantization.calibration_data).not.toMatch(/^synth\w*:(1|2|3|999):/); // neither trained on nor held out
      expect(q.metrics.eval_data).toBe(f.metrics.eval_data);
      expect(q.metrics.fp32_map50).toBe(f.metrics.map50);
      expect(q.metrics.map50).toBeGreaterThanOrEqual(f.metrics.map50 - 0.01);
      const ops = decodeModel(readFileSync(join('models', `${m}-int8`, 'model.onnx'))).graph!.node!.map((n) => n.opType);
      expect(ops).toContain('QuantizeLinear');
    });
  }

  for (const m of shipped) {
    it(`models/${m}-int8 runs in ORT as int8 kernels between its QLinearConvs (no float LeakyRelu or MaxPool, no reorder)`, async () => {
      const chain = int8Chain(await optimizedOps(join('models', `${m}-int8`, 'model.onnx'), join(root, `${m}-opt.onnx`)));
      expect(chain.filter((o) => !o.startsWith('QLinear') && o !== 'NhwcMaxPool' && !REORG.includes(o))).toEqual([]);
      // layout transposes only where darknet's reorg (a Reshape/Transpose/Reshape in NCHW) needs them
      if (!chain.includes('Reshape')) expect(chain).not.toContain('Transpose');
      expect(chain.filter((o) => o === 'Transpose').length).toBeLessThanOrEqual(4);
    });
  }

  it('yolov2-synth-int8 finds what yolov2-synth finds on examples/shapes.png (pinhole detect)', async () => {
    const run = async (m: string) => {
      const r = await pinhole('detect', join('models', m), 'examples/shapes.png', '--json', '--thresh', '0.5');
      expect(r.code).toBe(0);
      return (JSON.parse(r.stdout).detections as Array<{ class: string }>).map((d) => d.class).sort();
    };
    expect(await run('yolov2-synth-int8')).toEqual(await run('yolov2-synth'));
  });
});

