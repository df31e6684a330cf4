// The two adversarial objectives compared in this project, as one step driver: WGAN (critic
// without sigmoid, weights clipped after every critic update, RMSProp, n_critic critic updates per
// generator update) and the standard (JS) GAN (one discriminator update per generator update).
import { tf } from '../backend.ts';
import { clipWeights } from './losses.ts';

export type GanObjective = 'wgan' | 'jsgan';

/** WGAN hyper-parameters from Arjovsky et al. 2017, Algorithm 1. */
export const WGAN_DEFAULTS = { lr: 5e-5, clip: 0.01, nCritic: 5 } as const;

/**
 * RMSProp's epsilon. tfjs adds it inside the square root and defaults to 1e-7, which floors the
 * denominator at ~3e-4: the gradients of a weight-clipped critic (and the generator gradients through
 * it) are orders of magnitude below that, so the default turns RMSProp into plain SGD with a tiny
 * step. 1e-16 inside the root is the 1e-8 floor the reference (PyTorch) implementation has outside it.
 */
export const RMSPROP_EPSILON = 1e-16;
/** RMSProp's decay unless told otherwise: tfjs' default (the reference PyTorch implementation's alpha is 0.99). */
export const RMSPROP_DECAY = 0.9;
/** The usual DCGAN settings for the standard GAN (Adam 2e-4, beta1 .5). */
export const JSGAN_DEFAULTS = { lr: 2e-4, beta1: 0.5, nCritic: 1 } as const;

export interface ObjectiveConfig {
  objective: GanObjective;
  nCritic: number;
  /** weight clipping bound (wgan only) */
  clip?: number;
  criticOptimizer: tf.Optimizer;
  generatorOptimizer: tf.Optimizer;
}

export function objectiveConfig(objective: GanObjective, over: Partial<{ lr: number; nCritic: number; clip: number; rmsDecay: number }> = {}): ObjectiveConfig {
  if (objective === 'wgan') {
    const lr = over.lr ?? WGAN_DEFAULTS.lr;
    const decay = over.rmsDecay ?? RMSPROP_DECAY;
    return {
      objective,
      nCritic: over.nCritic ?? WGAN_DEFAULTS.nCritic,
      clip: over.clip ?? WGAN_DEFAULTS.clip,
      criticOptimizer: tf.train.rmsprop(lr, decay, 0, RMSPROP_EPSILON),
      generatorOptimizer: tf.train.rmsprop(lr, decay, 0, RMSPROP_EPSILON),
    };
  }
  const lr = over.lr ?? JSGAN_DEFAULTS.lr;
  return {
    objective,
    nCritic: over.nCritic ?? JSGAN_DEFAULTS.nCritic,
    criticOptimizer: tf.train.adam(lr, JSGAN_DEFAULTS.beta1),
    generatorOptimizer: tf.train.adam(lr, JSGAN_DEFAULTS.beta1),
  };
}

/** The tf.Variables behind a layers model's trainable weights (what optimizers update). */
export function trainableVariables(...models: tf.LayersModel[]): tf.Variable[] {
  return models.flatMap((m) => m.trainableWeights.map((w) => w.read() as tf.Variable));
}

/** One optimizer update of `vars` on `loss`; returns the loss value (NaN with read = false: no sync). */
export function step(opt: tf.Optimizer, vars: tf.Variable[], loss: () => tf.Scalar, read = true): number {
  const cost = opt.minimize(loss, read, vars);
  if (!read) return NaN;
  if (!cost) throw new Error('optimizer returned no cost');
  const v = cost.dataSync()[0];
  cost.dispose();
  return v;
}

/** A critic update followed, for WGAN, by the weight clipping that keeps it K-Lipschitz. */
export function criticStep(cfg: ObjectiveConfig, vars: tf.Variable[], loss: () => tf.Scalar, clipVars: tf.Variable[] = vars, read = true): number {
  const v = step(cfg.criticOptimizer, vars, loss, read);
  if (cfg.objective === 'wgan' && cfg.clip !== undefined) clipWeights(clipVars, cfg.clip);
  return v;
}
