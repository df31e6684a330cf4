// Alpha dropout (SNN paper, section "New Dropout Technique"): dropped units are set to
// alpha' = -lambda*alpha (SELU's negative saturation) instead of 0, then an affine a*x + b restores
// zero mean and unit variance: with keep probability q,
//   a = (q + alpha'^2 q (1 - q))^(-1/2),  b = -a (1 - q) alpha'.
// Identity at inference, so the ONNX export needs no node for it.
// tfjs ships an AlphaDropout whose mask term has the wrong sign (dropped units become +|alpha'|,
// which shifts the mean); this layer replaces it under the same Keras class name so saved
// topologies and the exporter treat it as the standard layer.
import { tf } from '../backend.ts';
import { SELU_SATURATION } from './selu.ts';

export interface AlphaDropoutParams {
  /** value dropped units take before the affine correction */
  alphaP: number;
  a: number;
  b: number;
}

export function alphaDropoutParams(rate: number): AlphaDropoutParams {
  if (!(rate >= 0 && rate < 1)) throw new Error(`alpha dropout rate must be in [0, 1), got ${rate}`);
  const q = 1 - rate;
  const alphaP = SELU_SATURATION;
  const a = 1 / Math.sqrt(q + alphaP * alphaP * q * (1 - q));
  const b = -a * (1 - q) * alphaP;
  return { alphaP, a, b };
}

/** Training-mode alpha dropout on a tensor (the layer calls this). */
export function alphaDropout(x: tf.Tensor, rate: number, seed?: number): tf.Tensor {
  if (rate === 0) return x.clone();
  const { alphaP, a, b } = alphaDropoutParams(rate);
  return tf.tidy(() => {
    const keep = tf.cast(tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32', seed), rate), 'float32');
    // x*keep + alphaP*(1-keep), then a*() + b
    const mixed = tf.add(tf.mul(x, keep), tf.mul(tf.sub(1, keep), alphaP));
    return tf.add(tf.mul(mixed, a), b);
  });
}

let currentStep = 0;

/**
 * Training loops call this before each step: a seeded layer then draws the mask of step k from
 * (layer seed, k), so a run resumed at step k sees the same masks as an uninterrupted one.
 */
export function setAlphaDropoutStep(step: number): void {
  currentStep = step;
}

export interface AlphaDropoutLayerArgs {
  rate: number;
  name?: string;
  seed?: number;
}

export class AlphaDropout extends tf.layers.Layer {
  static className = 'AlphaDropout';
  readonly rate: number;
  private readonly seed?: number;

  constructor(args: AlphaDropoutLayerArgs) {
    super({ name: args.name });
    alphaDropoutParams(args.rate); // validates the rate up front
    this.rate = args.rate;
    this.seed = args.seed;
    this.supportsMasking = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (kwargs.training !== true || this.rate === 0) return x;
    // unseeded: a fresh mask per call; seeded: one mask per (seed, step), never reused across steps
    const seed = this.seed === undefined ? undefined : (this.seed * 1000003 + currentStep * 7919) % 2147483647;
    return alphaDropout(x, this.rate, seed);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate };
  }
}
// Same class name as tfjs' built-in: registering replaces the faulty one for deserialisation too.
tf.serialization.registerClass(AlphaDropout);

export function alphaDropoutLayer(args: AlphaDropoutLayerArgs): AlphaDropout {
  return new AlphaDropout(args);
}
