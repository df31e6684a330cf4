// tfjs -> ONNX export: ORT output equals tfjs predict on the same input, for models that together use
// every layer class the exporter supports (checked below against the converter table).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ort from 'onnxruntime-node';
import { initBackend, tf } from '../src/train/backend.ts';
import { reorg, leakyRelu } from '../src/train/layers/index.ts';
import { alphaDropoutLayer } from '../src/train/snn/index.ts';
import { exportLayersModelWithInfo, UnsupportedLayerError, samePadding, type ExportOptions } from '../src/onnx/tfjs/index.ts';
import { CONVERTERS } from '../src/onnx/tfjs/layers.ts';
import { decodeModel } from '../src/onnx/graph.ts';
import { rng } from './helpers/random.ts';

type ST = tf.SymbolicTensor;
const L = tf.layers;
const usedClasses = new Set<string>();

/**
 * Seeds every weight so that a run reproduces (tfjs initializers are unseeded): He-uniform kernels,
 * small biases, and BatchNormalization statistics that are far from identity so that they matter.
 */
function seedWeights(model: tf.LayersModel, seed: number): void {
  const r = rng(seed);
  for (const layer of model.layers) {
    const names = layer.weights.map((w) => w.name);
    const isBn = layer.getClassName() === 'BatchNormalization';
    layer.setWeights(layer.getWeights().map((w, i) => {
      const name = names[i];
      const fanIn = w.shape.length > 1 ? w.shape.slice(0, -1).reduce((a, b) => a * b, 1) : 1;
      const scale = Math.sqrt(6 / fanIn);
      const vals = Float32Array.from({ length: w.size }, () => {
        if (isBn && name.includes('moving_variance')) return 0.3 + 1.5 * r();
        if (isBn && name.includes('gamma')) return 0.5 + r();
        if (isBn) return (r() - 0.5) * 0.6;
        if (w.shape.length > 1) return (r() * 2 - 1) * scale;
        return (r() - 0.5) * 0.2;
      });
      return tf.tensor(vals, w.shape, w.dtype);
    }));
  }
}

function collectClasses(model: tf.LayersModel): void {
  for (const l of model.layers) {
    if (l instanceof tf.LayersModel) collectClasses(l);
    else usedClasses.add(l.getClassName());
  }
}

interface Compared { maxAbs: number; maxRef: number }

/** Runs tfjs predict and the exported graph in ORT on the same inputs; returns per-output max |diff|. */
async function compare(model: tf.LayersModel, feeds: tf.Tensor[], opts: ExportOptions = {}): Promise<Compared[]> {
  collectClasses(model);
  const { bytes, inputs, outputs } = exportLayersModelWithInfo(model, opts);
  const session = await ort.InferenceSession.create(bytes);
  try {
    const ortFeeds: Record<string, ort.Tensor> = {};
    feeds.forEach((t, i) => {
      const spec = inputs[i];
      const x = spec.layout === 'NCHW' ? tf.transpose(t, [0, 3, 1, 2]) : t;
      const data = spec.dtype === 'int32' ? Int32Array.from(x.dataSync()) : Float32Array.from(x.dataSync());
      ortFeeds[spec.name] = new ort.Tensor(spec.dtype, data, x.shape);
    });
    const got = await session.run(ortFeeds);
    const pred = model.predict(feeds.length === 1 ? feeds[0] : feeds);
    const want = Array.isArray(pred) ? pred : [pred];
    return outputs.map((spec, i) => {
      const ref = spec.layout === 'NCHW' ? tf.transpose(want[i], [0, 3, 1, 2]) : want[i];
      const o = got[spec.name];
      expect(o.dims).toEqual(ref.shape);
      const a = o.data as Float32Array;
      const b = ref.dataSync();
      let maxAbs = 0;
      let maxRef = 0;
      for (let k = 0; k < b.length; k++) {
        maxAbs = Math.max(maxAbs, Math.abs(a[k] - b[k]));
        maxRef = Math.max(maxRef, Math.abs(b[k]));
      }
      expect(Number.isFinite(maxAbs)).toBe(true);
      console.log(`${model.name} output ${spec.name} [${ref.shape.join(',')}]: max|ORT - tfjs| = ${maxAbs.toExponential(2)}, max|tfjs| = ${maxRef.toFixed(3)}`);
      return { maxAbs, maxRef };
    });
  } finally {
    await session.release();
  }
}

function image(shape: number[], seed: number): tf.Tensor {
  const r = rng(seed);
  return tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, r), shape);
}

beforeAll(async () => {
  await initBackend();
});

describe('tfjs -> ONNX export equals tfjs predict', () => {
  it('Darknet-style detector: conv (same/valid, strides, even kernels, dilation), BN, leaky, pools, reorg + concat, 2 outputs', async () => {
    const x = tf.input({ shape: [34, 46, 3], name: 'image' });
    let t = L.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: 'heNormal' }).apply(x) as ST;
    t = L.batchNormalization().apply(t) as ST;
    t = L.leakyReLU({ alpha: 0.1 }).apply(t) as ST;
    t = L.maxPooling2d({ poolSize: 2, strides: 2 }).apply(t) as ST; // 17x23
    t = L.conv2d({ filters: 12, kernelSize: 3, padding: 'same', activation: leakyRelu }).apply(t) as ST;
    t = L.batchNormalization({ epsilon: 1e-5 }).apply(t) as ST;
    t = L.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same' }).apply(t) as ST; // 9x12 (asymmetric pad)
    const pass = L.conv2d({ filters: 4, kernelSize: 1, activation: leakyRelu }).apply(t) as ST; // 9x12x4
    t = L.conv2d({ filters: 16, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu' }).apply(t) as ST; // 5x6, even kernel
    t = L.maxPooling2d({ poolSize: 2, strides: 1, padding: 'same' }).apply(t) as ST; // darknet size=2 stride=1
    t = L.conv2d({ filters: 16, kernelSize: 3, padding: 'same', dilationRate: 2, activation: 'elu' }).apply(t) as ST;
    const pz = L.zeroPadding2d({ padding: [[1, 1], [0, 0]] }).apply(pass) as ST; // 11x12x4 -> crop below to 10x12
    const pc = L.cropping2D({ cropping: [[1, 0], [0, 0]] }).apply(pz) as ST; // 10x12x4
    const ro = reorg({ stride: 2 }).apply(pc) as ST; // 5x6x16
    t = L.concatenate().apply([ro, t]) as ST; // 5x6x32
    t = L.conv2d({ filters: 20, kernelSize: 3, padding: 'valid', activation: 'linear' }).apply(t) as ST; // 3x4x20
    const det = L.conv2d({ filters: 10, kernelSize: 1, name: 'detections', kernelInitializer: 'heNormal' }).apply(t) as ST;
    let cls = L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(t) as ST; // 2x2
    cls = L.flatten().apply(cls) as ST;
    cls = L.dropout({ rate: 0.5 }).apply(cls) as ST;
    cls = L.dense({ units: 7, activation: 'softmax', name: 'classes' }).apply(cls) as ST;
    const model = tf.model({ inputs: x, outputs: [det, cls], name: 'darknetish' });
    seedWeights(model, 1);
    const res = await compare(model, [image([2, 34, 46, 3], 11)]);
    for (const r of res) expect(r.maxAbs).toBeLessThan(1e-4);
    expect(res[0].maxRef).toBeGreaterThan(0.5); // realistic, non-degenerate magnitudes
    // layout: only Flatten (NCHW -> NHWC order) and the reorg permutation need a Transpose
    const ops = decodeModel(exportLayersModelWithInfo(model).bytes).graph!.node!.map((n) => n.opType);
    expect(ops.filter((o) => o === 'Transpose')).toHaveLength(2);
  });

  it('image ops: transposed convs (same/valid, k<s), upsampling, add/multiply/average/max/min, activations on 4-D, dense on 4-D', async () => {
    const x = tf.input({ shape: [9, 7, 4] });
    const a = L.conv2dTranspose({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(x) as ST; // 18x14
    const b = L.upSampling2d({ size: [2, 2] }).apply(L.conv2d({ filters: 6, kernelSize: 1 }).apply(x) as ST) as ST; // 18x14
    const c = L.conv2dTranspose({ filters: 6, kernelSize: 1, strides: 2, padding: 'same' }).apply(x) as ST; // k < s
    const d = L.conv2dTranspose({ filters: 6, kernelSize: 4, strides: 2, padding: 'valid' }).apply(x) as ST; // 20x16
    const dCrop = L.cropping2D({ cropping: [[1, 1], [0, 2]] }).apply(d) as ST; // 18x14
    const e = L.conv2dTranspose({ filters: 6, kernelSize: 2, strides: 3, padding: 'valid', useBias: false }).apply(x) as ST; // 27x21
    const ePool = L.maxPooling2d({ poolSize: 3, strides: 3, padding: 'valid' }).apply(e) as ST; // 9x7
    const eUp = L.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }).apply(ePool) as ST; // 18x14
    let s = L.add().apply([a, b, c]) as ST;
    s = L.multiply().apply([s, L.activation({ activation: 'sigmoid' }).apply(dCrop) as ST]) as ST;
    const avg = L.average().apply([s, eUp]) as ST;
    const mx = L.maximum().apply([avg, b]) as ST;
    const mn = L.minimum().apply([mx, a]) as ST;
    const sub = L.add().apply([mn, L.activation({ activation: 'linear' }).apply(c) as ST]) as ST;
    let t = L.activation({ activation: 'tanh' }).apply(sub) as ST;
    t = L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu6' }).apply(t) as ST;
    t = L.dense({ units: 5, activation: 'selu' }).apply(t) as ST; // Dense on NHWC: 1x1 conv
    t = L.prelu({ sharedAxes: [1, 2] }).apply(t) as ST;
    t = L.thresholdedReLU({ theta: 0.05 }).apply(t) as ST;
    t = L.activation({ activation: 'softplus' }).apply(t) as ST;
    const soft = L.softmax({ axis: -1 }).apply(t) as ST; // softmax over channels (tfjs's default axis is 1)
    const hs = L.activation({ activation: 'hardSigmoid' }).apply(L.elu().apply(sub) as ST) as ST;
    const sw = L.activation({ activation: 'swish' }).apply(L.reLU({ maxValue: 0.8 }).apply(hs) as ST) as ST;
    const ss = L.activation({ activation: 'softsign' }).apply(L.reLU().apply(sw) as ST) as ST;
    const gm = L.globalMaxPooling2d({}).apply(ss) as ST;
    const ga = L.globalAveragePooling2d({}).apply(soft) as ST;
    const vec = L.concatenate().apply([gm, ga]) as ST;
    const model = tf.model({ inputs: x, outputs: [soft, vec, ss] });
    const res = await compare(model, [image([3, 9, 7, 4], 5)]);
    for (const r of res) {
      expect(r.maxAbs).toBeLessThan(1e-4);
      expect(r.maxRef).toBeGreaterThan(0.05);
    }
  });

  it('StackGAN-like generator: text ids + noise inputs, embedding, dense on rank 3, BN on rank 3, reshape, NHWC output option', async () => {
    const ids = tf.input({ shape: [6], name: 'text' });
    const z = tf.input({ shape: [10], name: 'noise' });
    let e = L.embedding({ inputDim: 20, outputDim: 8, embeddingsInitializer: 'randomNormal' }).apply(ids) as ST; // [N,6,8]
    e = L.dense({ units: 12, activation: 'tanh' }).apply(e) as ST; // rank 3 MatMul
    e = L.batchNormalization().apply(e) as ST; // axis -1 of rank 3: folded
    e = L.permute({ dims: [2, 1] }).apply(e) as ST; // [N,12,6]
    e = L.flatten().apply(e) as ST;
    let h = L.concatenate().apply([e, z]) as ST;
    h = L.dense({ units: 4 * 4 * 8, useBias: false }).apply(h) as ST;
    h = L.batchNormalization().apply(h) as ST; // rank 2: ONNX BatchNormalization
    h = L.activation({ activation: 'relu' }).apply(h) as ST;
    h = L.reshape({ targetShape: [4, 4, 8] }).apply(h) as ST; // NHWC -> must become NCHW for convs
    h = L.upSampling2d({ size: [2, 2] }).apply(h) as ST;
    h = L.conv2d({ filters: 8, kernelSize: 3, padding: 'same' }).apply(h) as ST;
    h = L.batchNormalization().apply(h) as ST;
    h = L.activation({ activation: 'relu' }).apply(h) as ST;
    h = L.gaussianNoise({ stddev: 0.3 }).apply(h) as ST;
    h = L.conv2dTranspose({ filters: 4, kernelSize: 4, strides: 2, padding: 'same' }).apply(h) as ST; // 16x16
    const img = L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'tanh', name: 'image' }).apply(h) as ST;
    const flat = L.flatten().apply(L.reshape({ targetShape: [48, 16] }).apply(img) as ST) as ST;
    const logits = L.dense({ units: 3, activation: 'logSoftmax' as 'linear' }).apply(flat) as ST;
    const model = tf.model({ inputs: [ids, z], outputs: [img, logits] });
    seedWeights(model, 2);
    const r = rng(3);
    const idFeed = tf.tensor(Float32Array.from({ length: 2 * 6 }, () => Math.floor(r() * 20)), [2, 6]);
    const zFeed = tf.randomNormal([2, 10], 0, 1, 'float32', 4);
    for (const nchw of [true, false]) {
      const res = await compare(model, [idFeed, zFeed], { nchwOutputs: nchw });
      for (const q of res) expect(q.maxAbs).toBeLessThan(1e-4);
      expect(res[0].maxRef).toBeGreaterThan(0.05);
    }
    const info = exportLayersModelWithInfo(model, { inputNames: ['text_ids', 'z'], outputNames: ['img', 'logits'] });
    expect(info.inputs.map((i) => [i.name, i.layout, i.dims])).toEqual([['text_ids', 'plain', ['N', 6]], ['z', 'plain', ['N', 10]]]);
    expect(info.outputs.map((o) => [o.name, o.layout, o.dims])).toEqual([['img', 'NCHW', ['N', 3, 16, 16]], ['logits', 'plain', ['N', 3]]]);
  });

  it('sequential SNN (selu dense, alpha dropout), int32 token input, and a nested model with a shared layer', async () => {
    const seq = tf.sequential({ name: 'snn' });
    seq.add(L.dense({ units: 16, activation: 'selu', inputShape: [12] }));
    seq.add(alphaDropoutLayer({ rate: 0.1 }));
    seq.add(L.alphaDropout({ rate: 0.1 }));
    seq.add(L.dense({ units: 16, activation: 'selu' }));
    seq.add(L.dense({ units: 4, activation: 'softmax' }));
    const rs = await compare(seq, [tf.randomNormal([5, 12], 0, 1, 'float32', 7)]);
    expect(rs[0].maxAbs).toBeLessThan(1e-4);

    // generator + discriminator combined, the discriminator's conv shared by two branches
    const gIn = tf.input({ shape: [8] });
    let g = L.dense({ units: 4 * 4 * 2, activation: 'relu' }).apply(gIn) as ST;
    g = L.reshape({ targetShape: [4, 4, 2] }).apply(g) as ST;
    g = L.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh' }).apply(g) as ST;
    const gen = tf.model({ inputs: gIn, outputs: g, name: 'gen' });
    const dIn = tf.input({ shape: [8, 8, 3] });
    const shared = L.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: leakyRelu });
    const d1 = shared.apply(dIn) as ST;
    const d2 = shared.apply(L.upSampling2d({ size: [1, 1] }).apply(dIn) as ST) as ST;
    let d = L.add().apply([d1, d2]) as ST;
    d = L.flatten().apply(d) as ST;
    d = L.dense({ units: 1 }).apply(d) as ST;
    const disc = tf.model({ inputs: dIn, outputs: d, name: 'disc' });
    const cIn = tf.input({ shape: [8] });
    const fake = gen.apply(cIn) as ST;
    const score = disc.apply(fake) as ST;
    const combined = tf.model({ inputs: cIn, outputs: [score, fake] });
    const rc = await compare(combined, [tf.randomNormal([3, 8], 0, 1, 'float32', 8)]);
    for (const q of rc) expect(q.maxAbs).toBeLessThan(1e-4);

    const ids = tf.input({ shape: [5], dtype: 'int32' });
    const emb = L.embedding({ inputDim: 9, outputDim: 3 }).apply(ids) as ST;
    const em = tf.model({ inputs: ids, outputs: L.flatten().apply(emb) as ST });
    const re = await compare(em, [tf.tensor2d([[0, 1, 2, 8, 3], [4, 4, 5, 6, 7]], [2, 5], 'int32')]);
    expect(re[0].maxAbs).toBe(0);
  });

  it('the test models above used every layer class the exporter supports', () => {
    const missing = Object.keys(CONVERTERS).filter((c) => !usedClasses.has(c) && c !== 'SpatialDropout1D' && c !== 'GaussianDropout');
    expect(missing).toEqual([]);
  });
});

describe('export details and errors', () => {
  it("computes TF 'same' padding with the extra pixel after", () => {
    expect(samePadding(46, 4, 2, 1)).toEqual([1, 1]); // out 23: (22*2 + 4 - 46) = 2
    expect(samePadding(17, 2, 2, 1)).toEqual([0, 1]);
    expect(samePadding(13, 2, 1, 1)).toEqual([0, 1]); // darknet maxpool size=2 stride=1
    expect(samePadding(10, 3, 1, 2)).toEqual([2, 2]);
  });

  it('keeps the batch dimension dynamic and image inputs NCHW', async () => {
    const x = tf.input({ shape: [8, 6, 3], name: 'img' });
    const y = L.conv2d({ filters: 2, kernelSize: 3, padding: 'same' }).apply(x) as ST;
    const model = tf.model({ inputs: x, outputs: y });
    const info = exportLayersModelWithInfo(model, { inputNames: ['images'], outputNames: ['out'] });
    expect(info.inputs[0]).toMatchObject({ name: 'images', dims: ['N', 3, 8, 6], layout: 'NCHW' });
    expect(info.outputs[0]).toMatchObject({ name: 'out', dims: ['N', 2, 8, 6], layout: 'NCHW' });
    for (const n of [1, 4]) {
      const r = await compare(model, [image([n, 8, 6, 3], n)], { inputNames: ['images'], outputNames: ['out'] });
      expect(r[0].maxAbs).toBeLessThan(1e-5);
    }
  });

  it("fully convolutional model with unknown H, W: TF 'same' padding still matches at odd and even sizes", async () => {
    const x = tf.input({ shape: [null, null, 3] });
    let t = L.conv2d({ filters: 4, kernelSize: 4, strides: 2, padding: 'same', activation: leakyRelu }).apply(x) as ST;
    t = L.maxPooling2d({ poolSize: 2, strides: 1, padding: 'same' }).apply(t) as ST;
    t = L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(t) as ST;
    t = L.conv2d({ filters: 5, kernelSize: 3, padding: 'same' }).apply(t) as ST;
    const model = tf.model({ inputs: x, outputs: t });
    const info = exportLayersModelWithInfo(model);
    expect(info.inputs[0].dims.slice(2).every((d) => typeof d === 'string')).toBe(true);
    for (const [h, w] of [[13, 17], [16, 20]]) {
      const r = await compare(model, [image([1, h, w, 3], h)]);
      expect(r[0].maxAbs).toBeLessThan(1e-4);
    }
  });

  it('unsupported layers and configs fail with the layer name and class', () => {
    const x = tf.input({ shape: [10, 4] });
    const lstm = tf.model({ inputs: x, outputs: L.lstm({ units: 3, name: 'my_lstm' }).apply(x) as ST });
    expect(() => exportLayersModelWithInfo(lstm)).toThrow(UnsupportedLayerError);
    expect(() => exportLayersModelWithInfo(lstm)).toThrow(/"my_lstm" \(LSTM\)/);

    const xi = tf.input({ shape: [6, 6, 3] });
    const cf = tf.model({ inputs: xi, outputs: L.conv2d({ filters: 2, kernelSize: 3, padding: 'causal' as 'same', name: 'cconv' }).apply(xi) as ST });
    expect(() => exportLayersModelWithInfo(cf)).toThrow(/"cconv" \(Conv2D\).*padding "causal"/);

    const xd = tf.input({ shape: [null, null, 8] });
    const ro = tf.model({ inputs: xd, outputs: reorg({ name: 'dyn_reorg' }).apply(xd) as ST });
    expect(() => exportLayersModelWithInfo(ro)).toThrow(/"dyn_reorg" \(Reorg\).*static height/);

    const seq = tf.sequential();
    seq.add(L.dense({ units: 2, inputShape: [3] }));
    expect(() => exportLayersModelWithInfo(seq, { inputNames: ['a', 'b'] })).toThrow(/inputNames has 2 names for 1/);
    expect(() => exportLayersModelWithInfo(seq, { inputNames: ['x'], outputNames: ['x'] })).toThrow(/both an input and an output/);
  });
});

afterAll(() => {
  tf.disposeVariables();
});
