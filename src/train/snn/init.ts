// LeCun-normal initialisation: w ~ N(0, 1/fan_in), which with SELU gives the SNN fixed point
// (sum of weights ~ 0, sum of squares ~ 1 per unit).
// tfjs' own leCunNormal draws from a normal truncated at 2 std WITHOUT rescaling, so its variance
// is ~0.774/fan_in: activations then drift to a smaller fixed point instead of variance 1. This
// initializer draws the untruncated normal the paper analyses.
import { tf } from '../backend.ts';
import type { Initializer } from '@tensorflow/tfjs-layers/dist/initializers.d.ts';

// tfjs exports initializer factories but not their base class; take it from a built-in instance
// so the subclass is the same class tfjs-layers checks against (a deep import would load a
// second copy of tfjs).
const InitializerBase = Object.getPrototypeOf(tf.initializers.zeros().constructor) as abstract new () => Initializer;

export interface LeCunNormalArgs {
  seed?: number;
}

function fanIn(shape: number[]): number {
  if (shape.length === 2) return shape[0];
  // conv kernels in tfjs are [kh, kw, in, out]
  if (shape.length >= 3) return shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return shape[0] ?? 1;
}

export class LeCunNormal extends InitializerBase {
  static className = 'PinholeLeCunNormal';
  readonly seed?: number;

  constructor(args: LeCunNormalArgs = {}) {
    super();
    this.seed = args.seed;
  }

  apply(shape: number[], dtype?: tf.DataType): tf.Tensor {
    const std = Math.sqrt(1 / fanIn(shape));
    return tf.randomNormal(shape, 0, std, (dtype ?? 'float32') as 'float32', this.seed);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return this.seed === undefined ? {} : { seed: this.seed };
  }

  static fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config);
  }
}
tf.serialization.registerClass(LeCunNormal);

export function lecunNormal(args: LeCunNormalArgs = {}): LeCunNormal {
  return new LeCunNormal(args);
}
