import { beforeAll, describe, expect, it } from 'vitest';
import { tempDirs } from './helpers/tmp.ts';
import { initBackend, tf } from '../src/train/backend.ts';
import { fastBatchNorm } from '../src/train/engine/batchnorm.ts';
import { installSwappedConvFilterGrad } from '../src/train/engine/fast-grads.ts';
import { trainLoop, readResume, type LoopOptions } from '../src/train/engine/loop.ts';
import { openPipeline } from '../src/train/engine/pipeline.ts';
import { DEFAULT_AUGMENT } from '../src/train/engine/augment.ts';
import { buildYoloV2, type V2Arch } from '../src/train/yolo/models.ts';
import { makeTrainer, type YoloState } from '../src/train/yolo/trainers.ts';

const TINY: V2Arch = { backbone: [[8, 3], 'M', [8, 3], 'M', [16, 3], 'P', 'M', [16, 3], [16, 1]], passFilters: 4, headFilters: 16 };
const tmp = tempDirs('pinhole-train-');

beforeAll(async () => {
  expect(await initBackend()).toBe('wasm');
  installSwappedConvFilterGrad();
});

const state: YoloState = {
  kind: 'yolov2', names: Array.from({ length: 16 }, (_, i) => `c${i}`), detMap: Array.from({ length: 16 }, (_, i) => i),
  anchors: [0.5, 0.5, 1.5, 1.5], size: 64, num: 2,
};

function options(ckptDir: string, over: Partial<LoopOptions> = {}): LoopOptions {
  return {
    epochs: 50, batch: 4, sizes: [64], seed: 5, lr: 3e-3, burnIn: 0, ckptDir, ckptEvery: 1000,
    source: { det: 'synth:5:8:64', mode: 'letterbox', seed: 5, augment: null }, detSize: 8,
    inProcessPipeline: true, cliOptions: {}, log: () => {}, ...over,
  };
}

describe('training engine', () => {
  it('decreases the YOLOv2 loss over a few steps on tiny images', async () => {
    const model = buildYoloV2({ num: 2, classes: 16, arch: TINY, seed: 3 });
    const r = await trainLoop(makeTrainer(state, model), options(tmp(), { maxSteps: 40 }));
    expect(r.step).toBe(40);
    const first = r.losses.slice(0, 4).reduce((a, b) => a + b) / 4;
    const last = r.losses.slice(-4).reduce((a, b) => a + b) / 4;
    expect(last).toBeLessThan(0.6 * first);
  });

  it('resumes from a checkpoint to exactly the weights of an uninterrupted run', async () => {
    const over = { sizes: [64, 96], scaleEvery: 2, source: { det: 'synth:5:8:64', mode: 'letterbox' as const, seed: 5, augment: DEFAULT_AUGMENT } };
    const a = buildYoloV2({ num: 2, classes: 16, arch: TINY, seed: 3 });
    const ra = await trainLoop(makeTrainer(state, a), options(tmp(), { ...over, maxSteps: 6 }));
    const dir = tmp();
    const b1 = buildYoloV2({ num: 2, classes: 16, arch: TINY, seed: 3 });
    await trainLoop(makeTrainer(state, b1), options(dir, { ...over, maxSteps: 3, ckptEvery: 3 }));
    const resume = await readResume(dir);
    expect(resume?.meta.step).toBe(3);
    // a fresh process would rebuild the model from its seed: different init weights must not matter
    const b2 = buildYoloV2({ num: 2, classes: 16, arch: TINY, seed: 99 });
    const rb = await trainLoop(makeTrainer(state, b2), options(dir, { ...over, maxSteps: 3 }), resume);
    expect(rb.step).toBe(6);
    expect(rb.losses).toEqual(ra.losses.slice(3));
    const wa = a.getWeights().map((w) => Array.from(w.dataSync()));
    const wb = b2.getWeights().map((w) => Array.from(w.dataSync()));
    expect(wb).toEqual(wa);
  });

  it('builds identical batches in the worker and in process', async () => {
    const cfg = { det: 'synth:5:8:64', mode: 'letterbox' as const, seed: 2, augment: DEFAULT_AUGMENT };
    const req = { size: 96, items: [0, 3, 5].map((index) => ({ src: 'det' as const, index })), epoch: 1, step: 2 };
    const w = await openPipeline(cfg);
    const p = await openPipeline(cfg, { inProcess: true });
    try {
      const [bw, bp] = await Promise.all([w.request(req), p.request(req)]);
      expect(bw.pixels.length).toBe(3 * 96 * 96 * 3);
      expect(Buffer.from(bw.pixels.buffer).equals(Buffer.from(bp.pixels.buffer))).toBe(true);
      expect(bw.targets).toEqual(bp.targets);
    } finally {
      await w.close();
      await p.close();
    }
  });
});

describe('models', () => {
  it('YOLOv2 is fully convolutional: one model takes every multiple of its stride (multi-scale training)', () => {
    const m = buildYoloV2({ num: 5, classes: 16, seed: 1 });
    for (const s of [160, 192, 224, 256]) {
      const y = m.predict(tf.zeros([1, s, s, 3])) as tf.Tensor;
      expect(y.shape).toEqual([1, s / 16, s / 16, 5 * 21]);
      y.dispose();
    }
  });

  it('draws multi-scale sizes per block of steps from the seed alone', async () => {
    const { sizeAt } = await import('../src/train/engine/loop.ts');
    const o = { sizes: [160, 192, 224, 256], scaleEvery: 10, seed: 1 };
    const seq = Array.from({ length: 200 }, (_, i) => sizeAt(o, i));
    expect(new Set(seq)).toEqual(new Set(o.sizes));
    for (let i = 0; i < 200; i++) expect(seq[i]).toBe(seq[i - (i % 10)]);
    expect(Array.from({ length: 200 }, (_, i) => sizeAt(o, i))).toEqual(seq);
  });
});

describe('training kernels', () => {
  it('FastBatchNorm trains exactly like tfjs BatchNormalization (output, gradients, moving statistics)', () => {
    const x = tf.randomNormal([3, 6, 4, 5], 0, 2, 'float32', 1);
    const r = tf.randomNormal([3, 6, 4, 5], 0, 1, 'float32', 2);
    const run = (fast: boolean) => {
      const args = { momentum: 0.9, epsilon: 1e-3, gammaInitializer: tf.initializers.randomNormal({ seed: 3 }), betaInitializer: tf.initializers.randomNormal({ seed: 4 }) };
      const inp = tf.input({ shape: [6, 4, 5] });
      const layer = fast ? fastBatchNorm(args) : tf.layers.batchNormalization(args);
      const m = tf.model({ inputs: inp, outputs: layer.apply(inp) as tf.SymbolicTensor });
      const f = (xx: tf.Tensor) => tf.sum(tf.mul(m.apply(xx, { training: true }) as tf.Tensor, r)) as tf.Scalar;
      const { value, grads } = tf.variableGrads(() => f(x));
      const gx = tf.grad(f)(x);
      return { value: value.dataSync()[0], grads: Object.values(grads).map((g) => Array.from(g.dataSync())), gx: Array.from(gx.dataSync()), w: m.getWeights().map((t) => Array.from(t.dataSync())), cls: layer.getClassName() };
    };
    const a = run(false);
    const b = run(true);
    expect(b.cls).toBe('BatchNormalization');
    expect(b.value).toBeCloseTo(a.value, 4);
    a.grads.forEach((g, i) => g.forEach((v, j) => expect(b.grads[i][j]).toBeCloseTo(v, 3)));
    a.gx.forEach((v, j) => expect(b.gx[j]).toBeCloseTo(v, 4));
    a.w.forEach((w, i) => w.forEach((v, j) => expect(b.w[i][j]).toBeCloseTo(v, 5)));
  });

  it('computes the weight gradient of early layers as a swapped convolution, equal to the im2col kernel', () => {
    const x = tf.randomNormal([2, 96, 96, 8], 0, 1, 'float32', 7) as tf.Tensor4D;
    const dy = tf.randomNormal([2, 96, 96, 16], 0, 1, 'float32', 8) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 8, 16], 0, 1, 'float32', 9) as tf.Tensor4D;
    const fast = tf.grad((ww: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, ww as tf.Tensor4D, 1, 'same'), dy)))(w);
    // reference: the plain definition, sum over pixels of shifted inputs times dy
    const xp = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);
    const ref = tf.stack([0, 1, 2].map((ky) => tf.stack([0, 1, 2].map((kx) => {
      const xs = tf.reshape(tf.slice(xp, [0, ky, kx, 0], [2, 96, 96, 8]), [-1, 8]);
      return tf.matMul(xs, tf.reshape(dy, [-1, 16]), true, false);
    }))));
    const d = tf.max(tf.abs(tf.sub(fast, ref))).dataSync()[0];
    const m = tf.max(tf.abs(ref)).dataSync()[0];
    expect(d / m).toBeLessThan(1e-5);
  });
});
