// WGAN vs standard GAN on the 8-Gaussian ring, with the same generator and critic networks, and
// the training record (critic loss next to sample quality) that the bench plots.
import { tf } from '../backend.ts';
import { Rng } from '../data/rng.ts';
import { criticStep, objectiveConfig, step, trainableVariables, type GanObjective } from './adversarial.ts';
import { jsDiscriminatorLoss, jsGeneratorLoss, wassersteinCriticLoss, wassersteinGeneratorLoss } from './losses.ts';
import { RING8, ringQuality, sampleRing, type RingQuality, type RingSpec } from './ring.ts';

export interface ToyNets {
  generator: tf.LayersModel;
  critic: tf.LayersModel;
}

/** An MLP with leaky ReLU hidden layers (optionally batch-normalised) and a linear output. */
function toyMlp(inDim: number, out: number, name: string, seed: number, hidden: number, depth: number, norm = false): tf.LayersModel {
  const layers: tf.layers.Layer[] = [];
  for (let i = 0; i < depth; i++) {
    layers.push(tf.layers.dense({
      units: hidden, inputShape: i === 0 ? [inDim] : undefined, useBias: !norm,
      kernelInitializer: tf.initializers.heNormal({ seed: seed + i }), name: `${name}_fc${i}`,
    }));
    if (norm) layers.push(tf.layers.batchNormalization({ name: `${name}_bn${i}` }));
    // leaky: under weight clipping the biases outweigh the shrinking activations of deeper layers
    // and plain ReLU units of the critic die for good
    layers.push(tf.layers.leakyReLU({ alpha: 0.2, name: `${name}_act${i}` }));
  }
  layers.push(tf.layers.dense({ units: out, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 99 }), name: `${name}_out` }));
  return tf.sequential({ layers, name });
}

/**
 * MLP generator z -> 2 and critic 2 -> 1, leaky ReLU (no sigmoid: the JS-GAN applies it inside its
 * loss). The critic may be shallower and wider than the generator (criticHidden/criticDepth).
 */
export function toyNets(zDim: number, hidden: number, depth: number, seed: number, criticHidden = hidden, criticDepth = depth,
  criticBatchNorm = false): ToyNets {
  return { generator: toyMlp(zDim, 2, 'g', seed, hidden, depth), critic: toyMlp(2, 1, 'd', seed + 1000, criticHidden, criticDepth, criticBatchNorm) };
}

export interface ToyRunOptions {
  objective: GanObjective;
  /** generator iterations */
  iterations: number;
  batch?: number;
  zDim?: number;
  hidden?: number;
  depth?: number;
  /** critic width and depth (default: the generator's) */
  criticHidden?: number;
  criticDepth?: number;
  /**
   * batch norm in the critic's hidden layers (as the DCGAN critic of the WGAN paper). Real and fake
   * go through it as ONE batch: normalised separately (the reference implementation's two passes),
   * every hidden unit's batch mean is its beta for either batch, so the mean of a (near-)linear critic
   * is the same constant for real and fake and the critic loss has almost no gradient (a dead critic).
   * Evaluation uses the moving statistics.
   */
  criticBatchNorm?: boolean;
  seed?: number;
  lr?: number;
  /** WGAN RMSProp decay (objectiveConfig's default when unset) */
  rmsDecay?: number;
  /** the networks see data / scale and the generator's output is multiplied by scale for measuring */
  scale?: number;
  /**
   * from this fraction of the run on, both optimizers' learning rates fall linearly to 0 at the last
   * iteration (unset: constant, as in the papers). RMSProp and Adam take steps of about the learning
   * rate whatever the gradient's size, so at a constant rate the samples keep jittering round the modes.
   */
  lrDecayFrom?: number;
  /** also keep an exponential moving average of the generator's weights (this decay) and measure it beside the raw generator */
  emaDecay?: number;
  evalEvery?: number;
  evalSamples?: number;
  spec?: RingSpec;
  onRecord?: (r: ToyRecord) => void;
  /** diagnostics: called at every record with the generator samples (measuring units) and the nets */
  onSnapshot?: (iteration: number, samples: Float32Array, nets: ToyNets) => void;
}

export interface ToyRecord {
  iteration: number;
  /** last critic/discriminator loss on a training batch */
  criticLoss: number;
  /** WGAN: E f(real) - E f(fake) on a held-out batch (the Wasserstein estimate); JS-GAN: its D loss */
  estimate: number;
  quality: RingQuality;
  /** the same measures for the averaged generator, on the same noise (with emaDecay) */
  emaQuality?: RingQuality;
}

export interface ToyResult {
  objective: GanObjective;
  history: ToyRecord[];
  final: RingQuality;
  /** final generator samples [x0, y0, ...] */
  samples: Float32Array;
  /** the averaged generator's, on the same noise (with emaDecay) */
  finalEma?: RingQuality;
  emaSamples?: Float32Array;
  seconds: number;
}

function noise(n: number, zDim: number, rng: Rng): tf.Tensor2D {
  const z = new Float32Array(n * zDim);
  for (let i = 0; i < z.length; i++) z[i] = rng.normal();
  return tf.tensor2d(z, [n, zDim]);
}

export function sampleToy(nets: ToyNets, n: number, zDim: number, rng: Rng): Float32Array {
  return tf.tidy(() => (nets.generator.apply(noise(n, zDim, rng)) as tf.Tensor).dataSync() as Float32Array).slice();
}

/** the learning-rate factor at a generator iteration (1-based) of a run with lrDecayFrom = from */
export function lrFactor(it: number, iterations: number, from?: number): number {
  if (from === undefined || from >= 1) return 1;
  const start = Math.floor(from * iterations);
  return it <= start ? 1 : Math.max(0, (iterations - it) / Math.max(1, iterations - start));
}

/** A second generator holding the exponential moving average of the first's weights. */
function weightAverage(generator: tf.LayersModel, zDim: number, hidden: number, depth: number, decay: number) {
  const avg = toyMlp(zDim, 2, 'g_avg', 0, hidden, depth);
  avg.setWeights(generator.getWeights());
  const src = trainableVariables(generator);
  const dst = trainableVariables(avg);
  return {
    generator: avg,
    update: () => tf.tidy(() => { for (let i = 0; i < src.length; i++) dst[i].assign(tf.add(tf.mul(dst[i], decay), tf.mul(src[i], 1 - decay))); }),
  };
}

/** A toy run's settings (defaults filled in), nets, optimizers and random streams. */
interface ToyRun {
  o: ToyRunOptions;
  batch: number;
  zDim: number;
  spec: RingSpec;
  scale: number;
  wgan: boolean;
  /** the critic has batch norm (see criticBatchNorm) */
  norm: boolean;
  nets: ReturnType<typeof toyNets>;
  cfg: ReturnType<typeof objectiveConfig>;
  ema?: ReturnType<typeof weightAverage>;
  dVars: tf.Variable[];
  gVars: tf.Variable[];
  /** real points of the ring (scaled) */
  data: Rng;
  /** generator noise */
  zr: Rng;
}

function toyRun(o: ToyRunOptions): ToyRun {
  const zDim = o.zDim ?? 16;
  const seed = o.seed ?? 1;
  const hidden = o.hidden ?? 128;
  const depth = o.depth ?? 3;
  const nets = toyNets(zDim, hidden, depth, seed, o.criticHidden ?? hidden, o.criticDepth ?? depth, o.criticBatchNorm ?? false);
  const cfg = objectiveConfig(o.objective, { lr: o.lr, rmsDecay: o.rmsDecay });
  const ema = o.emaDecay === undefined ? undefined : weightAverage(nets.generator, zDim, hidden, depth, o.emaDecay);
  return {
    o, batch: o.batch ?? 64, zDim, spec: o.spec ?? RING8, scale: o.scale ?? 1, wgan: o.objective === 'wgan', norm: o.criticBatchNorm ?? false,
    nets, cfg, ema, dVars: trainableVariables(nets.critic), gVars: trainableVariables(nets.generator),
    data: new Rng(seed, 1), zr: new Rng(seed, 2),
  };
}

function ringData(r: ToyRun, n: number, rng: Rng): Float32Array {
  const x = sampleRing(n, rng, r.spec);
  if (r.scale !== 1) for (let i = 0; i < x.length; i++) x[i] /= r.scale;
  return x;
}

/** n critic steps; the loss of the last one. */
function criticSteps(r: ToyRun, nCritic: number): number {
  const { nets, cfg, dVars, batch } = r;
  let last = NaN;
  for (let k = 0; k < nCritic; k++) {
    const real = tf.tensor2d(ringData(r, batch, r.data), [batch, 2]);
    const z = noise(batch, r.zDim, r.zr);
    // the critic step differentiates only the critic: the fake batch is a constant to it
    const fake = tf.tidy(() => nets.generator.apply(z, { training: true }) as tf.Tensor);
    const read = k === nCritic - 1;
    const v = criticStep(cfg, dVars, () => {
      // one pass over [real; fake]: without batch norm the same function as two passes with half the
      // kernel launches; with it, one set of batch statistics for both (see criticBatchNorm)
      const [fr, ff] = tf.split(nets.critic.apply(tf.concat([real, fake]), { training: true }) as tf.Tensor, 2);
      return r.wgan ? wassersteinCriticLoss(fr, ff) : jsDiscriminatorLoss(fr, ff);
    }, dVars, read);
    if (read) last = v;
    tf.dispose([real, z, fake]);
  }
  return last;
}

function generatorStep(r: ToyRun): void {
  const { nets, batch } = r;
  const z = noise(batch, r.zDim, r.zr);
  // with batch norm the generator's batch goes through the critic beside a real one, as in the critic step
  const realG = r.norm ? tf.tensor2d(ringData(r, batch, r.data), [batch, 2]) : undefined;
  step(r.cfg.generatorOptimizer, r.gVars, () => {
    const fake = nets.generator.apply(z, { training: true }) as tf.Tensor;
    const ff = realG
      ? tf.split(nets.critic.apply(tf.concat([realG, fake]), { training: true }) as tf.Tensor, 2)[1]
      : nets.critic.apply(fake, { training: true }) as tf.Tensor;
    return r.wgan ? wassersteinGeneratorLoss(ff) : jsGeneratorLoss(ff);
  }, false);
  realG?.dispose();
  z.dispose();
  r.ema?.update();
}

/** Samples (and the averaged generator's) on fresh noise, scored against the ring; the critic's estimate. */
function toyRecord(r: ToyRun, iteration: number, criticLoss: number, evalRng: Rng): { record: ToyRecord; samples: Float32Array; avgSamples?: Float32Array } {
  const { nets, ema, scale, spec } = r;
  const n = r.o.evalSamples ?? 2500;
  const real = tf.tensor2d(ringData(r, n, evalRng), [n, 2]);
  const z = noise(n, r.zDim, evalRng);
  const [samples, estimate] = tf.tidy(() => {
    const fake = nets.generator.apply(z) as tf.Tensor;
    const fr = nets.critic.apply(real) as tf.Tensor;
    const ff = nets.critic.apply(fake) as tf.Tensor;
    const est = r.wgan ? tf.sub(tf.mean(fr), tf.mean(ff)) : jsDiscriminatorLoss(fr, ff);
    return [(fake.dataSync() as Float32Array).map((v) => v * scale), est.dataSync()[0]] as const;
  });
  const avgSamples = ema && tf.tidy(() => ((ema.generator.apply(z) as tf.Tensor).dataSync() as Float32Array).map((v) => v * scale));
  tf.dispose([real, z]);
  const record: ToyRecord = { iteration, criticLoss, estimate, quality: ringQuality(samples, spec), emaQuality: avgSamples && ringQuality(avgSamples, spec) };
  return { record, samples, avgSamples };
}

export async function trainToy(o: ToyRunOptions): Promise<ToyResult> {
  const t0 = performance.now();
  const r = toyRun(o);
  const { cfg, nets, ema, spec } = r;
  const evalEvery = o.evalEvery ?? 250;
  // tfjs optimizers read their (protected) learningRate at every update, so the schedule sets it there
  const rates = [cfg.criticOptimizer, cfg.generatorOptimizer].map((opt) => ({ opt: opt as unknown as { learningRate: number }, base: (opt as unknown as { learningRate: number }).learningRate }));
  const evalRng = new Rng(o.seed ?? 1, 3);
  const history: ToyRecord[] = [];
  let lastCritic = NaN;
  const record = (iteration: number) => {
    const x = toyRecord(r, iteration, lastCritic, evalRng);
    history.push(x.record);
    o.onRecord?.(x.record);
    o.onSnapshot?.(iteration, x.samples, nets);
    return x;
  };

  for (let it = 1; it <= o.iterations; it++) {
    const f = lrFactor(it, o.iterations, o.lrDecayFrom);
    for (const rate of rates) rate.opt.learningRate = rate.base * f;
    // WGAN trains the critic harder for the first 25 and every 500th generator iteration
    // (Algorithm 1's reference implementation), so the generator sees a near-optimal critic.
    const nCritic = r.wgan && (it <= 25 || it % 500 === 0) ? 100 : cfg.nCritic;
    lastCritic = criticSteps(r, nCritic);
    generatorStep(r);
    if (it % evalEvery === 0 || it === o.iterations) record(it);
    if (it % 50 === 0) await new Promise((res) => setImmediate(res));
  }
  const { samples, avgSamples } = record(o.iterations);
  history.pop();
  const final = ringQuality(samples, spec);
  nets.generator.dispose();
  ema?.generator.dispose();
  nets.critic.dispose();
  cfg.criticOptimizer.dispose();
  cfg.generatorOptimizer.dispose();
  return { objective: o.objective, history, final, samples, finalEma: avgSamples && ringQuality(avgSamples, spec), emaSamples: avgSamples,
    seconds: (performance.now() - t0) / 1000 };
}
