// Alpha dropout for SELU networks (Klambauer et al., "Self-Normalizing Neural Networks", 2017).
// tfjs 4.22's tf.layers.alphaDropout sets dropped units to +alpha' instead of alpha' = -scale*alpha
// (it multiplies (keep - 1) by alpha'), which breaks the self-normalising fixed point, so we use our own.
// At inference it is the identity (the exporter emits nothing for it).
import { tf } from '../backend.ts';

const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;

export interface AlphaDropoutArgs {
  rate: number;
  seed?: number;
  name?: string;
  inputShape?: number[];
}

export class SeluAlphaDropout extends tf.layers.Layer {
  static className = 'SeluAlphaDropout';
  readonly rate: number;
  readonly seed?: number;
  private calls = 0;

  constructor(args: AlphaDropoutArgs) {
    super(args);
    if (!(args.rate >= 0 && args.rate < 1)) throw new Error(`SeluAlphaDropout: rate must be in [0, 1), got ${args.rate}`);
    this.rate = args.rate;
    this.seed = args.seed;
    this.supportsMasking = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (!kwargs?.training || this.rate === 0) return tf.clone(x);
    return tf.tidy(() => {
      const p = this.rate;
      const alphaP = -SELU_ALPHA * SELU_SCALE;
      // a, b keep zero mean and unit variance of SELU activations after dropping (paper, eq. 10)
      const a = ((1 - p) * (1 + p * alphaP * alphaP)) ** -0.5;
      const b = -a * alphaP * p;
      const seed = this.seed === undefined ? undefined : this.seed + this.calls++;
      const keep = tf.cast(tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32', seed), p), 'float32');
      // kept: x, dropped: alpha'
      const mixed = tf.add(tf.mul(x, keep), tf.mul(tf.sub(1, keep), alphaP));
      return tf.add(tf.mul(mixed, a), b);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const cfg: tf.serialization.ConfigDict = { ...super.getConfig(), rate: this.rate };
    if (this.seed !== undefined) cfg.seed = this.seed;
    return cfg;
  }
}
tf.serialization.registerClass(SeluAlphaDropout);

export function seluAlphaDropout(args: AlphaDropoutArgs): SeluAlphaDropout {
  return new SeluAlphaDropout(args);
}
