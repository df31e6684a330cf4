// WGAN on small generated images (the caption scenes at 32x32, one or two shapes): a DCGAN-style
// generator (nearest-neighbour upsampling + 3x3 conv + BN + ReLU) and a convolutional critic with no
// sigmoid and no batch norm, trained as in Arjovsky et al. (RMSProp 5e-5, weights clipped to
// +-0.01, 5 critic updates per generator update, 100 for the first 25 and every 500th). The record
// keeps the critic's Wasserstein estimate next to a sample-quality figure (sliced Wasserstein
// distance to real images) so the two can be plotted against each other.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tf } from '../backend.ts';
import { Rng } from '../data/rng.ts';
import { synthCaptionScene } from '../data/caption-scenes.ts';
import { writeModelFolder } from '../../onnx/tfjs/index.ts';
import type { GanManifest } from '../../manifest.ts';
import { tile, toRgb } from '../../vision/generated-images.ts';
import { encodePng } from '../data/image.ts';
import { criticStep, objectiveConfig, step as optStep, trainableVariables } from './adversarial.ts';
import { checkpointDir, loadGanCheckpoint, restoreModels, restoreOptimizers, saveGanCheckpoint, type GanCheckpoint } from './checkpoint.ts';
import { wassersteinCriticLoss, wassersteinGeneratorLoss } from './losses.ts';
import { figureSvg, svgToPng } from './plot.ts';
import { downsample, imageTensor, normalTensor } from './stackgan/data.ts';
import { bn, upBlock } from './stackgan/models.ts';
import { slicedWasserstein } from './swd.ts';
import { InitSeeds } from './init-seeds.ts';
import { resumedWithConfig, type ResumeKeys } from '../engine/resume-options.ts';

type ST = tf.SymbolicTensor;

export interface WganImageConfig {
  size: number;
  zDim: number;
  ngf: number;
  ndf: number;
  batch: number;
  lr: number;
  clip: number;
  nCritic: number;
}

export const WGAN_IMAGE_DEFAULTS: WganImageConfig = { size: 32, zDim: 64, ngf: 64, ndf: 32, batch: 32, lr: 5e-5, clip: 0.01, nCritic: 5 };

export function wganGenerator(c: WganImageConfig, seed = 1): tf.LayersModel {
  const s = new InitSeeds(seed);
  const z = tf.input({ shape: [c.zDim], name: 'z' });
  const s0 = c.size / 8;
  let h = tf.layers.dense({ units: s0 * s0 * c.ngf, useBias: false, name: 'g_fc', kernelInitializer: s.normal(0.02) }).apply(z) as ST;
  h = tf.layers.reshape({ targetShape: [s0, s0, c.ngf], name: 'g_r' }).apply(h) as ST;
  h = bn('g_fc_bn').apply(h) as ST;
  h = tf.layers.reLU({ name: 'g_fc_relu' }).apply(h) as ST;
  h = upBlock(s, h, c.ngf / 2, 'g_up1');
  h = upBlock(s, h, c.ngf / 4, 'g_up2');
  h = tf.layers.upSampling2d({ size: [2, 2], interpolation: 'nearest', name: 'g_up3_up' }).apply(h) as ST;
  const img = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'tanh', name: 'image',
    kernelInitializer: s.normal(0.02) }).apply(h) as ST;
  return tf.model({ inputs: z, outputs: img, name: 'wgan_g' });
}

export function wganCritic(c: WganImageConfig, seed = 2): tf.LayersModel {
  const s = new InitSeeds(seed);
  const img = tf.input({ shape: [c.size, c.size, 3], name: 'img' });
  let h: ST = img;
  [c.ndf, c.ndf * 2, c.ndf * 4].forEach((f, i) => {
    h = tf.layers.conv2d({ filters: f, kernelSize: 4, strides: 2, padding: 'same', name: `c_conv${i}`,
      kernelInitializer: s.normal(0.02) }).apply(h) as ST;
    h = tf.layers.leakyReLU({ alpha: 0.2, name: `c_lrelu${i}` }).apply(h) as ST;
  });
  h = tf.layers.flatten({ name: 'c_flat' }).apply(h) as ST;
  const score = tf.layers.dense({ units: 1, name: 'c_score', kernelInitializer: s.glorot() }).apply(h) as ST;
  return tf.model({ inputs: img, outputs: score, name: 'wgan_critic' });
}

export interface WganImageOptions {
  out: string;
  runDir: string;
  seed: number;
  /** real images kept in memory */
  pool: number;
  /** generator iterations */
  iterations: number;
  evalEvery: number;
  ckptEvery: number;
  resume: boolean;
  config: WganImageConfig;
  name: string;
  maxSteps?: number;
  log: (line: string) => void;
  onProgress?: (iteration: number, total: number, info: string) => void;
  /** options typed on the command line (these names): on resume they replace the run's */
  given?: string[];
}

/** Options of a WGAN run on resume (see resumedOptions): the nets' shapes are the checkpoint's. */
const WGAN_RESUME: ResumeKeys<WganImageOptions> = { arch: [], session: ['out', 'runDir', 'name', 'resume', 'maxSteps', 'log', 'onProgress', 'given'] };
const WGAN_CONFIG_RESUME: ResumeKeys<WganImageConfig> = { arch: ['size', 'zDim', 'ngf', 'ndf'], session: [], flags: { zDim: '--z' } };

export interface WganImageRecord {
  iteration: number;
  /** E f(real) - E f(fake) on held-out real images and fresh noise */
  wEstimate: number;
  /** sliced Wasserstein distance (16x16 pixels) between samples and held-out real images */
  swd: number;
}

function scenes(seed: number, n: number, size: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => synthCaptionScene(seed, i, { size }).rgb);
}

function flatSmall(images: Uint8Array[], size: number): Float32Array {
  const f = size / 16;
  const dim = 16 * 16 * 3;
  const out = new Float32Array(images.length * dim);
  images.forEach((img, k) => {
    const s = downsample(img, size, f);
    for (let i = 0; i < dim; i++) out[k * dim + i] = s[i] / 127.5 - 1;
  });
  return out;
}

function tensorToSmall(x: tf.Tensor4D, size: number): Float32Array {
  return tf.tidy(() => (tf.avgPool(x, size / 16, size / 16, 'valid').dataSync() as Float32Array).slice());
}

/** A WGAN run in progress: its data, nets, optimizers, iteration and history; checkpoints and records. */
class WganRun {
  it = 0;
  history: WganImageRecord[] = [];
  seconds = 0;
  lastSave = Date.now();
  readonly pool: Uint8Array[];
  readonly heldSmall: Float32Array;
  readonly heldTensor: tf.Tensor4D;
  readonly G: tf.LayersModel;
  readonly D: tf.LayersModel;
  readonly cfg: ReturnType<typeof objectiveConfig>;
  readonly evalRng: Rng;
  readonly fixedZ: tf.Tensor;

  constructor(readonly o: WganImageOptions, readonly ckptDir: string) {
    const c = o.config;
    o.log(`rendering ${o.pool} training scenes and 500 held-out scenes (${c.size}px)...`);
    this.pool = scenes(o.seed, o.pool, c.size);
    const heldout = scenes(o.seed + 1, 500, c.size);
    this.heldSmall = flatSmall(heldout, c.size);
    this.heldTensor = imageTensor(heldout, c.size) as tf.Tensor4D;
    this.G = wganGenerator(c, o.seed);
    this.D = wganCritic(c, o.seed + 1);
    this.cfg = objectiveConfig('wgan', { lr: c.lr, clip: c.clip, nCritic: c.nCritic });
    this.evalRng = new Rng(o.seed, 0xe1);
    this.fixedZ = normalTensor(new Rng(o.seed, 0xf1), [64, c.zDim]);
  }

  get models() {
    return { G: this.G, D: this.D };
  }

  get optimizers() {
    return { g: this.cfg.generatorOptimizer, d: this.cfg.criticOptimizer };
  }

  async resume(ck: GanCheckpoint): Promise<void> {
    restoreModels(ck, this.models);
    await restoreOptimizers(ck, this.optimizers);
    this.it = ck.meta.step;
    this.history = (ck.meta.state.history as WganImageRecord[]) ?? [];
    this.seconds = (ck.meta.state.seconds as number) ?? 0;
    this.o.log(`resumed from ${ck.dir} at generator iteration ${this.it}`);
  }

  async save(): Promise<void> {
    this.seconds += (Date.now() - this.lastSave) / 1000;
    this.lastSave = Date.now();
    await saveGanCheckpoint(this.ckptDir, {
      trainer: 'wgan', phase: 'wgan', step: this.it, seed: this.o.seed,
      options: { ...this.o, log: undefined, onProgress: undefined, given: undefined } as Record<string, unknown>, state: { history: this.history, seconds: this.seconds },
    }, this.models, this.optimizers);
  }

  /** The W estimate and SWD on held-out scenes, and a grid of samples from fixed noise. */
  async record(): Promise<void> {
    const { o, G, D } = this;
    const c = o.config;
    const z = normalTensor(this.evalRng, [500, c.zDim]);
    const fake = G.predict(z, { batchSize: 100 }) as tf.Tensor4D;
    const w = tf.tidy(() => tf.sub(tf.mean(D.predict(this.heldTensor, { batchSize: 100 }) as tf.Tensor), tf.mean(D.predict(fake, { batchSize: 100 }) as tf.Tensor)).dataSync()[0]);
    const swd = slicedWasserstein(tensorToSmall(fake, c.size), this.heldSmall, 16 * 16 * 3, 128, 7);
    tf.dispose([z, fake]);
    this.history.push({ iteration: this.it, wEstimate: w, swd });
    const grid = G.predict(this.fixedZ) as tf.Tensor4D;
    const nchw = tf.transpose(grid, [0, 3, 1, 2]);
    const { images, width, height } = toRgb({ type: 'float32', dims: nchw.shape, data: nchw.dataSync() as Float32Array });
    tf.dispose([grid, nchw]);
    const g = tile(images, width, height);
    await writeFile(path.join(o.runDir, `samples-${String(this.it).padStart(6, '0')}.png`), await encodePng(g.rgb, g.width, g.height));
    o.log(`iteration ${this.it}: W estimate ${w.toExponential(3)}, SWD ${swd.toFixed(4)}`);
  }

  /** The real-vs-real SWD floor, for reading the curve (recorded as iteration -1). */
  recordFloor(): void {
    const floor = slicedWasserstein(flatSmall(this.pool.slice(0, 500), this.o.config.size), this.heldSmall, 16 * 16 * 3, 128, 7);
    this.o.log(`SWD between two real sets (the floor): ${floor.toFixed(4)}`);
    this.history.push({ iteration: -1, wEstimate: 0, swd: floor });
  }

  /** One generator iteration: n_critic critic steps (100 early on and every 500th), then a generator step. */
  iterate(dv: tf.Variable[], gv: tf.Variable[]): { critic: number; generator: number } {
    const { o, G, D, cfg, pool } = this;
    const c = o.config;
    const rng = new Rng(o.seed, this.it, 0x3c);
    const nCritic = this.it < 25 || this.it % 500 === 0 ? 100 : cfg.nCritic;
    let critic = NaN;
    for (let k = 0; k < nCritic; k++) {
      const real = imageTensor(Array.from({ length: c.batch }, () => pool[Math.floor(rng.float() * pool.length)]), c.size);
      const z = normalTensor(rng, [c.batch, c.zDim]);
      const fake = tf.tidy(() => G.apply(z, { training: true }) as tf.Tensor);
      critic = criticStep(cfg, dv, () => wassersteinCriticLoss(D.apply(real) as tf.Tensor, D.apply(fake) as tf.Tensor));
      tf.dispose([real, z, fake]);
    }
    const z = normalTensor(rng, [c.batch, c.zDim]);
    const generator = optStep(cfg.generatorOptimizer, gv, () => wassersteinGeneratorLoss(D.apply(G.apply(z, { training: true }) as tf.Tensor) as tf.Tensor));
    z.dispose();
    this.it++;
    return { critic, generator };
  }
}

export async function trainWganImages(options: WganImageOptions): Promise<{ dir: string; metrics: Record<string, unknown>; stopped: boolean }> {
  await mkdir(options.runDir, { recursive: true });
  const ckptDir = checkpointDir(options.runDir);
  const ck = options.resume ? await loadGanCheckpoint(ckptDir) : undefined;
  if (options.resume && !ck) options.log(`no checkpoint in ${ckptDir}: starting from scratch`);
  const o = ck
    ? resumedWithConfig(options, options.given ?? [], ck.meta.options as Partial<WganImageOptions>, WGAN_RESUME, WGAN_CONFIG_RESUME, options.log)
    : options;
  const run = new WganRun(o, ckptDir);
  if (ck) await run.resume(ck);
  const dv = trainableVariables(run.D);
  const gv = trainableVariables(run.G);
  run.lastSave = Date.now();
  if (!ck) {
    run.recordFloor();
    await run.record();
  }
  let budget = o.maxSteps ?? Infinity;
  while (run.it < o.iterations && budget > 0) {
    const loss = run.iterate(dv, gv);
    budget--;
    const it = run.it;
    if (it % 10 === 0) o.onProgress?.(it, o.iterations, `critic ${loss.critic.toExponential(2)} G ${loss.generator.toExponential(2)}`);
    if (it % o.evalEvery === 0 || it === o.iterations) await run.record();
    if (it % o.ckptEvery === 0 || it === o.iterations) await run.save();
    await new Promise((r) => setImmediate(r));
  }
  if (run.it < o.iterations) {
    await run.save();
    o.log(`stopped after the step budget at iteration ${run.it}; resume with --resume`);
    return { dir: o.out, metrics: {}, stopped: true };
  }
  const curve = run.history.filter((h) => h.iteration >= 0);
  const floor = run.history.find((h) => h.iteration === -1)?.swd;
  const png = await curvePng(o.config, curve, floor);
  await writeFile(path.join(o.runDir, 'training-curve.png'), png);
  const metrics = wganMetrics(curve, floor, run.it);
  const seconds = Math.round(run.seconds + (Date.now() - run.lastSave) / 1000);
  const written = await writeModelFolder(o.out, run.G, wganManifest(o, curve, metrics, run.it, seconds), { outputNames: ['image'], files: { 'training-curve.png': png } });
  tf.dispose([run.heldTensor, run.fixedZ]);
  o.log(`wrote ${written.dir}`);
  return { dir: written.dir, metrics, stopped: false };
}

/** The training curve: the critic's W estimate against the SWD of the samples, with the real-vs-real floor. */
function curvePng(c: WganImageConfig, curve: WganImageRecord[], floor: number | undefined): Promise<Uint8Array> {
  return svgToPng(figureSvg([{ kind: 'line', panel: {
    title: `WGAN on ${c.size}x${c.size} scenes: critic estimate vs sample quality`, xLabel: 'generator iteration',
    yLabel: 'W estimate  E f(real) - E f(fake)', yRightLabel: 'SWD to real images (lower is better)',
    series: [
      { label: 'W estimate (critic)', colour: '#c0392b', points: curve.map((h) => [h.iteration, h.wEstimate]) },
      { label: 'sliced Wasserstein distance', colour: '#2e86c1', right: true, points: curve.map((h) => [h.iteration, h.swd]) },
      ...(floor !== undefined ? [{ label: 'SWD real vs real', colour: '#2e86c1', right: true, dashed: true,
        points: [[curve[0].iteration, floor], [curve[curve.length - 1].iteration, floor]] as Array<[number, number]> }] : []),
    ],
  } }], 1, 760, 420));
}

function wganMetrics(curve: WganImageRecord[], floor: number | undefined, iterations: number): Record<string, unknown> {
  const last = curve[curve.length - 1];
  const first = curve[0];
  return {
    swd_final: round(last.swd), swd_initial: round(first.swd), swd_real_floor: floor !== undefined ? round(floor) : null,
    w_estimate_final: last.wEstimate, generator_iterations: iterations,
    pearson_w_vs_swd: round(pearson(curve.map((h) => h.wEstimate), curve.map((h) => h.swd))),
    how: 'SWD: sliced Wasserstein distance (128 directions) between 500 samples and 500 held-out real scenes, both box-filtered to 16x16; '
      + 'W estimate: mean critic score of held-out real scenes minus that of 500 samples (the critic\'s Wasserstein-1 estimate, up to its Lipschitz constant).',
  };
}

function wganManifest(o: WganImageOptions, curve: WganImageRecord[], metrics: Record<string, unknown>, iterations: number, seconds: number): GanManifest {
  const c = o.config;
  return {
    name: o.name,
    kind: 'wgan',
    input: { width: c.size, height: c.size, channels: 3, layout: 'NCHW' },
    preprocess: 'resize',
    names: [],
    source: 'pinhole-train',
    description: `WGAN (weight clipping) trained on ${c.size}x${c.size} generated scenes; noise z [N, ${c.zDim}] in, RGB [N, 3, ${c.size}, ${c.size}] out`,
    onnx: { input: 'z', outputs: ['image'] },
    inputs: { noise: 'z' },
    zDim: c.zDim,
    output: 'image',
    outputRange: [-1, 1],
    training: { config: c, seed: o.seed, pool: o.pool, iterations, seconds, history: curve },
    metrics,
  };
}

const round = (v: number) => Math.round(v * 10000) / 10000;

export function pearson(a: number[], b: number[]): number {
  const n = a.length;
  if (n < 2) return NaN;
  const ma = a.reduce((s, v) => s + v, 0) / n;
  const mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}
