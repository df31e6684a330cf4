// GAN training pieces on real (tiny) runs: objectives, clipping, the ring's quality figures, the
// transpose-free matmul, export parity of the StackGAN serving graph, and exact resume.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { initBackend, tf } from '../src/train/backend.ts';
import { Rng } from '../src/train/data/rng.ts';
import { clipWeights, jsDiscriminatorLoss, jsGeneratorLoss, klNormal, wassersteinCriticLoss, wassersteinGeneratorLoss } from '../src/train/gan/losses.ts';
import { criticStep, objectiveConfig, trainableVariables } from '../src/train/gan/adversarial.ts';
import { RING8, ringCentres, ringQuality, sampleRing } from '../src/train/gan/ring.ts';
import { lrFactor, toyNets, trainToy } from '../src/train/gan/toy.ts';
import { slicedWasserstein } from '../src/train/gan/swd.ts';
import { DEFAULT_CONFIG, type StackGanConfig } from '../src/train/gan/stackgan/config.ts';
import { servingModel, stackGanNets } from '../src/train/gan/stackgan/models.ts';
import { trainStackGan } from '../src/train/gan/stackgan/train.ts';
import { trainWganImages, wganCritic, wganGenerator, WGAN_IMAGE_DEFAULTS } from '../src/train/gan/wgan-image.ts';
import { exportLayersModelWithInfo } from '../src/onnx/tfjs/index.ts';

let dir: string;
beforeAll(async () => {
  await initBackend();
  dir = await mkdtemp(join(tmpdir(), 'pinhole-gan-train-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const val = (t: tf.Tensor) => t.dataSync()[0];

describe('objectives', () => {
  it('WGAN and JS-GAN losses and the KL term have their closed forms', () => {
    const real = tf.tensor1d([1, 2, 3]);
    const fake = tf.tensor1d([-1, 0.5]);
    expect(val(wassersteinCriticLoss(real, fake))).toBeCloseTo(-0.25 - 2, 6);
    expect(val(wassersteinGeneratorLoss(fake))).toBeCloseTo(0.25, 6);
    const sp = (x: number) => Math.log1p(Math.exp(x));
    expect(val(jsDiscriminatorLoss(real, fake))).toBeCloseTo((sp(-1) + sp(-2) + sp(-3)) / 3 + (sp(-1) + sp(0.5)) / 2, 5);
    expect(val(jsGeneratorLoss(fake))).toBeCloseTo((sp(1) + sp(-0.5)) / 2, 5);
    // KL(N(mu, e^lv) || N(0,1)) = .5 (mu^2 + e^lv - 1 - lv), summed over dims, averaged over the batch
    const mu = tf.tensor2d([[0, 1], [2, 0]]);
    const lv = tf.tensor2d([[0, Math.log(4)], [0, -1]]);
    const want = (0.5 * (0 + 0) + 0.5 * (1 + 4 - 1 - Math.log(4)) + 0.5 * (4) + 0.5 * (Math.exp(-1) - 1 + 1)) / 2;
    expect(val(klNormal(mu, lv))).toBeCloseTo(want, 5);
    expect(val(klNormal(tf.zeros([3, 4]), tf.zeros([3, 4])))).toBeCloseTo(0, 6);
  });

  it('a WGAN critic step leaves every critic weight in [-0.01, 0.01]; the critic has no sigmoid', () => {
    const nets = toyNets(8, 32, 2, 3);
    const cfg = objectiveConfig('wgan');
    expect(cfg.clip).toBe(0.01);
    expect(cfg.nCritic).toBe(5);
    const dv = trainableVariables(nets.critic);
    const before = Math.max(...dv.map((v) => val(tf.max(tf.abs(v)))));
    expect(before).toBeGreaterThan(0.01);
    const rng = new Rng(1);
    const real = tf.tensor2d(sampleRing(32, rng), [32, 2]);
    const z = tf.randomNormal([32, 8], 0, 1, 'float32', 1);
    criticStep(cfg, dv, () => wassersteinCriticLoss(nets.critic.apply(real) as tf.Tensor, nets.critic.apply(nets.generator.apply(z) as tf.Tensor) as tf.Tensor));
    for (const v of dv) expect(val(tf.max(tf.abs(v)))).toBeLessThanOrEqual(0.01 + 1e-9);
    const last = nets.critic.layers[nets.critic.layers.length - 1];
    expect(last.getConfig().activation).toBe('linear');
    // the standard GAN's discriminator is not clipped
    const js = objectiveConfig('jsgan');
    expect(js.clip).toBeUndefined();
    const w = tf.variable(tf.tensor1d([-2, 0.005, 3]));
    clipWeights([w], 0.01);
    expect(Array.from(w.dataSync())).toEqual([-0.01, 0.005, 0.01].map((x) => Math.fround(x)));
  });
});

describe('8-Gaussian ring', () => {
  it('the true mixture covers 8 modes with ~99.7% good samples; one collapsed mode covers 1', () => {
    const q = ringQuality(sampleRing(2500, new Rng(5)));
    expect(q.modesCovered).toBe(8);
    expect(q.goodShare).toBeGreaterThan(0.98);
    const [cx, cy] = ringCentres()[3];
    const rng = new Rng(6);
    const one = Float32Array.from({ length: 5000 }, (_, i) => (i % 2 === 0 ? cx : cy) + RING8.std * rng.normal());
    const q1 = ringQuality(one);
    expect(q1.modesCovered).toBe(1);
    expect(q1.perMode[3]).toBeGreaterThan(2400);
    const spread = Float32Array.from({ length: 5000 }, () => 3 * (rng.float() - 0.5));
    expect(ringQuality(spread).goodShare).toBeLessThan(0.05);
  });

  it('a short JS-GAN run moves samples towards the modes (deterministic for a seed)', async () => {
    const a = await trainToy({ objective: 'jsgan', iterations: 300, hidden: 64, seed: 2, evalEvery: 100, evalSamples: 1000 });
    expect(a.history.map((h) => h.iteration)).toEqual([100, 200, 300]);
    const start = ringQuality((await trainToy({ objective: 'jsgan', iterations: 1, hidden: 64, seed: 2, evalEvery: 100, evalSamples: 1000 })).samples);
    // Deterministic for seed 2: 1.188 -> 1.038 after 300 steps with the current toy nets (leaky, depth 3).
    expect(a.final.meanDistance).toBeLessThan(start.meanDistance * 0.9);
    const b = await trainToy({ objective: 'jsgan', iterations: 300, hidden: 64, seed: 2, evalEvery: 100, evalSamples: 1000 });
    expect(Array.from(b.samples.slice(0, 20))).toEqual(Array.from(a.samples.slice(0, 20)));
  }, 120_000);

  it('the learning-rate anneal is flat, then linear to 0 at the last iteration', () => {
    expect(lrFactor(500, 1000)).toBe(1);
    expect(lrFactor(600, 1000, 0.6)).toBe(1);
    expect(lrFactor(800, 1000, 0.6)).toBeCloseTo(0.5, 12);
    expect(lrFactor(1000, 1000, 0.6)).toBe(0);
    expect(lrFactor(1, 1000, 0)).toBeCloseTo(0.999, 12);
  });

  it('the generator weight average: decay 0 is the generator itself, decay .9 lags it', async () => {
    const run = (emaDecay: number, lrDecayFrom?: number) => trainToy({ objective: 'jsgan', iterations: 60, hidden: 32, seed: 4, evalEvery: 60, evalSamples: 500, emaDecay, lrDecayFrom });
    const same = await run(0);
    expect(Array.from(same.emaSamples!)).toEqual(Array.from(same.samples));
    const lag = await run(0.9);
    // same training (the average never feeds back), different samples
    expect(Array.from(lag.samples.slice(0, 20))).toEqual(Array.from(same.samples.slice(0, 20)));
    expect(Math.abs(lag.finalEma!.meanDistance - lag.final.meanDistance)).toBeGreaterThan(1e-4);
    expect(lag.history[0].emaQuality).toBeDefined();
    // the anneal changes the run (rates below the base after 30 of 60 iterations)
    const annealed = await run(0, 0.5);
    expect(Array.from(annealed.samples.slice(0, 20))).not.toEqual(Array.from(same.samples.slice(0, 20)));
  }, 120_000);
});

describe('sliced Wasserstein distance', () => {
  it('is ~0 for the same set, grows with a shift, and is symmetric', () => {
    const rng = new Rng(9);
    const x = Float32Array.from({ length: 400 * 6 }, () => rng.normal());
    const y = Float32Array.from({ length: 400 * 6 }, () => rng.normal());
    const shifted = x.map((v) => v + 1);
    expect(slicedWasserstein(x, x, 6)).toBeCloseTo(0, 6);
    const near = slicedWasserstein(x, y, 6);
    const far = slicedWasserstein(x, shifted, 6);
    expect(far).toBeGreaterThan(near * 3);
    expect(slicedWasserstein(y, x, 6)).toBeCloseTo(near, 6);
  });
});

const tinyConfig: StackGanConfig = { ...DEFAULT_CONFIG, batch: 4, ngf1: 16, ndf1: 8, ngf2: 8, ndf2: 4, zDim: 8, cDim: 8, textDim: 16 };

describe('StackGAN graphs', () => {
  it('the exported serving graph (tokens, z, eps -> Stage-I, Stage-II) computes what tfjs computes', async () => {
    const nets = stackGanNets(tinyConfig, 30, 5);
    const model = servingModel(tinyConfig, nets);
    const ex = exportLayersModelWithInfo(model, { outputNames: ['stage1', 'stage2'] });
    expect(ex.inputs.map((i) => [i.name, i.dtype])).toEqual([['tokens', 'int32'], ['z', 'float32'], ['eps', 'float32']]);
    expect(ex.outputs.map((x) => x.dims)).toEqual([['N', 3, 16, 16], ['N', 3, 64, 64]]);
    const n = 3;
    const ids = Int32Array.from({ length: n * tinyConfig.maxTokens }, (_, i) => (i * 7) % 30);
    const z = Float32Array.from({ length: n * tinyConfig.zDim }, (_, i) => Math.sin(i));
    const eps = Float32Array.from({ length: n * tinyConfig.cDim }, (_, i) => Math.cos(i));
    const [s1, s2] = model.predict([tf.tensor2d(ids, [n, tinyConfig.maxTokens], 'int32'), tf.tensor2d(z, [n, tinyConfig.zDim]), tf.tensor2d(eps, [n, tinyConfig.cDim])]) as tf.Tensor[];
    const sess = await ort.InferenceSession.create(ex.bytes);
    const out = await sess.run({
      tokens: new ort.Tensor('int32', ids, [n, tinyConfig.maxTokens]),
      z: new ort.Tensor('float32', z, [n, tinyConfig.zDim]),
      eps: new ort.Tensor('float32', eps, [n, tinyConfig.cDim]),
    });
    for (const [t, name] of [[s1, 'stage1'], [s2, 'stage2']] as const) {
      const ref = tf.transpose(t, [0, 3, 1, 2]).dataSync();
      const got = out[name].data as Float32Array;
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ref[i] - got[i]));
      expect(worst, name).toBeLessThan(1e-4);
    }
    // eps moves the image: conditioning augmentation is live in the graph
    const out2 = await sess.run({
      tokens: new ort.Tensor('int32', ids, [n, tinyConfig.maxTokens]),
      z: new ort.Tensor('float32', z, [n, tinyConfig.zDim]),
      eps: new ort.Tensor('float32', eps.map((v) => v + 1), [n, tinyConfig.cDim]),
    });
    expect(Array.from(out2.stage2.data as Float32Array).slice(0, 50)).not.toEqual(Array.from(out.stage2.data as Float32Array).slice(0, 50));
    await sess.release();
  });

  it('the WGAN image generator exports as noise [N, z] -> RGB [N, 3, 32, 32]; the critic ends linear', () => {
    const g = wganGenerator({ ...WGAN_IMAGE_DEFAULTS, ngf: 16, ndf: 8 });
    const ex = exportLayersModelWithInfo(g, { outputNames: ['image'] });
    expect(ex.inputs.map((i) => [i.name, i.dims])).toEqual([['z', ['N', 64]]]);
    expect(ex.outputs[0].dims).toEqual(['N', 3, 32, 32]);
    const d = wganCritic({ ...WGAN_IMAGE_DEFAULTS, ngf: 16, ndf: 8 });
    expect(d.layers[d.layers.length - 1].getConfig().activation).toBe('linear');
  });
});

describe('StackGAN training run', () => {
  it('trains all phases, exports a servable folder, and a run stopped and resumed ends with the same weights', async () => {
    const base = {
      seed: 3, pool: 48, textSteps: 8, stage1Steps: 4, stage2Steps: 2, judgeSteps: 4, evalCount: 6, ckptEvery: 2,
      batch2: 2, config: tinyConfig, log: () => {},
    };
    const full = await trainStackGan({ ...base, out: join(dir, 'a'), runDir: join(dir, 'run-a'), name: 'a', resume: false });
    expect(full.stopped).toBe(false);
    // the same run in three pieces, restarted from checkpoints each time
    let r = await trainStackGan({ ...base, out: join(dir, 'b'), runDir: join(dir, 'run-b'), name: 'b', resume: false, maxSteps: 10 });
    expect(r.stopped).toBe(true);
    r = await trainStackGan({ ...base, out: join(dir, 'b'), runDir: join(dir, 'run-b'), name: 'b', resume: true, maxSteps: 3 });
    expect(r.stopped).toBe(true);
    r = await trainStackGan({ ...base, out: join(dir, 'b'), runDir: join(dir, 'run-b'), name: 'b', resume: true });
    expect(r.stopped).toBe(false);
    const [ma, mb] = await Promise.all([readFile(join(dir, 'a', 'model.onnx')), readFile(join(dir, 'b', 'model.onnx'))]);
    // identical graphs except the model name: compare the outputs for the same feeds
    const feeds = {
      tokens: new ort.Tensor('int32', Int32Array.from({ length: 2 * tinyConfig.maxTokens }, (_, i) => i % 5), [2, tinyConfig.maxTokens]),
      z: new ort.Tensor('float32', new Float32Array(2 * tinyConfig.zDim).fill(0.3), [2, tinyConfig.zDim]),
      eps: new ort.Tensor('float32', new Float32Array(2 * tinyConfig.cDim).fill(-0.2), [2, tinyConfig.cDim]),
    };
    const [sa, sb] = await Promise.all([ort.InferenceSession.create(ma), ort.InferenceSession.create(mb)]);
    const [oa, ob] = [await sa.run(feeds), await sb.run(feeds)];
    // equal up to float rounding: tfjs Adam recomputes beta^t on restore where the live run multiplies
    for (const k of ['stage1', 'stage2'] as const) {
      const x = oa[k].data as Float32Array;
      const y = ob[k].data as Float32Array;
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < x.length; i++) { worst = Math.max(worst, Math.abs(x[i] - y[i])); scale = Math.max(scale, Math.abs(x[i])); }
      expect(scale).toBeGreaterThan(0);
      expect(worst / scale, k).toBeLessThan(1e-5);
    }
    const m = JSON.parse(await readFile(join(dir, 'a', 'model.json'), 'utf8'));
    expect(m.kind).toBe('stackgan');
    expect(m.text.vocabulary.slice(0, 2)).toEqual(['<pad>', '<unk>']);
    expect(m.metrics.heldout_captions).toBe(6);
    expect(typeof m.metrics.stage2_agreement_heldout).toBe('number');
    expect(m.judge.file).toBe('attribute-judge.onnx');
    await Promise.all([sa.release(), sb.release()]);
  }, 240_000);
});

describe('WGAN image training run', () => {
  it('records W estimate and SWD, resumes, and writes a servable wgan folder with its curve', async () => {
    const config = { ...WGAN_IMAGE_DEFAULTS, ngf: 16, ndf: 8, batch: 4, zDim: 8 };
    const base = { seed: 4, pool: 32, iterations: 3, evalEvery: 1, ckptEvery: 1, config, name: 'w', log: () => {} };
    const r1 = await trainWganImages({ ...base, out: join(dir, 'w'), runDir: join(dir, 'run-w'), resume: false, maxSteps: 2 });
    expect(r1.stopped).toBe(true);
    // the resumed run keeps the checkpoint's architecture: a typed --z 16 is ignored (the ONNX input below is [N, 8])
    const lines: string[] = [];
    const r2 = await trainWganImages({
      ...base, config: { ...config, zDim: 16 }, given: ['zDim'], log: (l) => lines.push(l),
      out: join(dir, 'w'), runDir: join(dir, 'run-w'), resume: true,
    });
    expect(r2.stopped).toBe(false);
    expect(lines).toContain('--z 16 ignored: a resumed run keeps its architecture (--z 8)');
    const m = JSON.parse(await readFile(join(dir, 'w', 'model.json'), 'utf8'));
    expect(m.kind).toBe('wgan');
    expect(m.inputs.noise).toBe('z');
    expect(m.training.history.map((h: { iteration: number }) => h.iteration)).toEqual([0, 1, 2, 3]);
    expect(m.metrics.swd_real_floor).toBeLessThan(m.metrics.swd_initial);
    const png = await readFile(join(dir, 'w', 'training-curve.png'));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    const s = await ort.InferenceSession.create(join(dir, 'w', 'model.onnx'));
    const out = await s.run({ z: new ort.Tensor('float32', new Float32Array(2 * 8).fill(0.5), [2, 8]) });
    expect(out.image.dims).toEqual([2, 3, 32, 32]);
    const px = out.image.data as Float32Array;
    expect(px.every((v) => v >= -1 && v <= 1)).toBe(true);
    await s.release();
  }, 180_000);
});
