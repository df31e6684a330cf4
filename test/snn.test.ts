import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../src/train/backend.ts';
import {
  AlphaDropout, SELU_ALPHA, SELU_LAMBDA, alphaDropout, alphaDropoutParams, lecunNormal, seluDense, seluScalar,
} from '../src/train/snn/index.ts';

beforeAll(async () => {
  await initBackend();
});

function moments(t: tf.Tensor): { mean: number; variance: number } {
  const { mean, variance } = tf.moments(t);
  const out = { mean: mean.dataSync()[0], variance: variance.dataSync()[0] };
  mean.dispose();
  variance.dispose();
  return out;
}

describe('SELU', () => {
  it('has the paper constants and matches tf.selu', () => {
    expect(SELU_LAMBDA).toBeCloseTo(1.0507, 4);
    expect(SELU_ALPHA).toBeCloseTo(1.6733, 4);
    const xs = [-5, -1, -0.1, 0, 0.3, 2];
    const got = tf.selu(tf.tensor1d(xs)).dataSync();
    xs.forEach((x, i) => expect(got[i]).toBeCloseTo(seluScalar(x), 5));
  });
});

describe('self-normalisation through 32 SELU dense layers (LeCun-normal init)', () => {
  it('keeps every layer\'s activations at mean 0 +- 0.1 and variance 1 +- 0.15', () => {
    const width = 256;
    const layers = Array.from({ length: 32 }, (_, i) => seluDense(width, { seed: 1000 + i, inputShape: i === 0 ? [width] : undefined }));
    const model = tf.sequential({ layers });
    let x: tf.Tensor = tf.randomNormal([1024, width], 0, 1, 'float32', 7);
    const stats: Array<{ mean: number; variance: number }> = [];
    for (const layer of model.layers) {
      const y = layer.apply(x) as tf.Tensor;
      x.dispose();
      x = y;
      stats.push(moments(x));
    }
    x.dispose();
    expect(stats).toHaveLength(32);
    for (const [i, s] of stats.entries()) {
      expect(Math.abs(s.mean), `layer ${i + 1} mean ${s.mean}`).toBeLessThanOrEqual(0.1);
      expect(Math.abs(s.variance - 1), `layer ${i + 1} variance ${s.variance}`).toBeLessThanOrEqual(0.15);
    }
  });

  it('the same network with ReLU and the same init does not keep unit variance (the check discriminates)', () => {
    const width = 256;
    let x: tf.Tensor = tf.randomNormal([1024, width], 0, 1, 'float32', 7);
    for (let i = 0; i < 32; i++) {
      const layer = tf.layers.dense({ units: width, activation: 'relu', kernelInitializer: lecunNormal({ seed: 1000 + i }) });
      const y = layer.apply(x) as tf.Tensor;
      x.dispose();
      x = y;
    }
    const s = moments(x);
    x.dispose();
    expect(Math.abs(s.variance - 1)).toBeGreaterThan(0.15);
  });

  it('tfjs\' built-in (truncated, unrescaled) leCunNormal lets the variance collapse: why snn/init.ts exists', () => {
    let x: tf.Tensor = tf.randomNormal([1024, 256], 0, 1, 'float32', 7);
    for (let i = 0; i < 32; i++) {
      const layer = tf.layers.dense({ units: 256, activation: 'selu', kernelInitializer: tf.initializers.leCunNormal({ seed: 1000 + i }) });
      const y = layer.apply(x) as tf.Tensor;
      x.dispose();
      x = y;
    }
    const s = moments(x);
    x.dispose();
    expect(s.variance).toBeLessThan(0.85);
  });

  it('LeCun-normal weights have variance 1/fan_in (untruncated)', () => {
    const w = lecunNormal({ seed: 3 }).apply([400, 300]);
    const s = moments(w);
    w.dispose();
    expect(s.variance * 400).toBeGreaterThan(0.97);
    expect(s.variance * 400).toBeLessThan(1.03);
  });
});

describe('alpha dropout', () => {
  it('uses the paper affine correction', () => {
    const { alphaP, a, b } = alphaDropoutParams(0.1);
    expect(alphaP).toBeCloseTo(-SELU_LAMBDA * SELU_ALPHA, 10);
    // analytic mean/variance of a*(x*d + alphaP*(1-d)) + b with x ~ N(0,1), d ~ Bernoulli(0.9)
    const q = 0.9;
    const mean = a * (1 - q) * alphaP + b;
    const variance = a * a * (q + q * (1 - q) * alphaP * alphaP);
    expect(mean).toBeCloseTo(0, 10);
    expect(variance).toBeCloseTo(1, 10);
  });

  it.each([0.05, 0.1, 0.2])('keeps mean 0 and variance 1 at rate %s, for N(0,1) inputs and for SELU activations', (rate) => {
    const x = tf.randomNormal([400000], 0, 1, 'float32', 11);
    const s = moments(x);
    const dropped = alphaDropout(x, rate, 5);
    const d = moments(dropped);
    expect(Math.abs(d.mean - s.mean)).toBeLessThan(0.01);
    expect(Math.abs(d.variance - s.variance)).toBeLessThan(0.02);
    // the dropped share sits at a*alphaP + b
    const { alphaP, a, b } = alphaDropoutParams(rate);
    const v = dropped.dataSync();
    let atSat = 0;
    for (const e of v) if (Math.abs(e - (a * alphaP + b)) < 1e-5) atSat++;
    expect(atSat / v.length).toBeGreaterThan(rate * 0.95);
    expect(atSat / v.length).toBeLessThan(rate * 1.05);
    tf.dispose([x, dropped]);

    // through a SELU layer stack with alpha dropout between layers the statistics stay normalised
    let h: tf.Tensor = tf.randomNormal([2048, 128], 0, 1, 'float32', 12);
    for (let i = 0; i < 8; i++) {
      const dense = seluDense(128, { seed: 50 + i });
      const y = alphaDropout(dense.apply(h) as tf.Tensor, rate, 100 + i);
      h.dispose();
      h = y;
    }
    const hs = moments(h);
    h.dispose();
    expect(Math.abs(hs.mean)).toBeLessThan(0.1);
    expect(Math.abs(hs.variance - 1)).toBeLessThan(0.15);
  });

  it('ordinary (inverted) dropout does not keep the variance (the check discriminates)', () => {
    const x = tf.randomNormal([200000], 0, 1, 'float32', 11);
    const d = moments(tf.dropout(x, 0.2, undefined, 5));
    expect(Math.abs(d.variance - 1)).toBeGreaterThan(0.1);
  });

  it('the layer is identity at inference and stochastic in training, and round-trips through its config', () => {
    const layer = new AlphaDropout({ rate: 0.2, name: 'ad' });
    const x = tf.randomNormal([4, 16], 0, 1, 'float32', 1);
    const inf = layer.apply(x) as tf.Tensor;
    expect(Array.from(inf.dataSync())).toEqual(Array.from(x.dataSync()));
    const tr = layer.apply(x, { training: true }) as tf.Tensor;
    expect(Array.from(tr.dataSync())).not.toEqual(Array.from(x.dataSync()));
    const cfg = layer.getConfig();
    expect(cfg.rate).toBe(0.2);
    expect(AlphaDropout.className).toBe('AlphaDropout');
    expect(() => new AlphaDropout({ rate: 1 })).toThrow(/rate/);
  });
});

describe('SNN layers in ONNX', () => {
  it('SELU dense layers export as Selu nodes, alpha dropout as nothing, and ORT computes what tfjs computes', async () => {
    const { exportLayersModelWithInfo } = await import('../src/onnx/tfjs/index.ts');
    const { decodeModel } = await import('../src/onnx/graph.ts');
    const ort = (await import('onnxruntime-node')).default;
    const x = tf.input({ shape: [12] });
    let h = seluDense(16, { seed: 1 }).apply(x) as tf.SymbolicTensor;
    h = new AlphaDropout({ rate: 0.1, name: 'adrop' }).apply(h) as tf.SymbolicTensor;
    h = seluDense(4, { seed: 2 }).apply(h) as tf.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: h });
    const ex = exportLayersModelWithInfo(model, { inputNames: ['x'], outputNames: ['y'] });
    const ops = decodeModel(ex.bytes).graph!.node!.map((n) => n.opType);
    expect(ops.filter((o) => o === 'Selu')).toHaveLength(2);
    expect(ops.some((o) => /Dropout/.test(o ?? ''))).toBe(false);
    const input = tf.randomNormal([5, 12], 0, 1, 'float32', 3);
    const want = (model.predict(input) as tf.Tensor).dataSync();
    const s = await ort.InferenceSession.create(ex.bytes);
    const got = (await s.run({ x: new ort.Tensor('float32', input.dataSync() as Float32Array, [5, 12]) })).y.data as Float32Array;
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 5);
    await s.release();
  });
});
