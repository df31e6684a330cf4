// Batch normalisation whose training step is one custom-gradient op. tfjs-layers' BatchNormalization
// differentiates through tf.moments and the FusedBatchNorm gradient, which tiles per-channel factors to
// the full activation size; on the wasm backend that costs more than the convolutions. This subclass
// computes the same function with the closed-form gradient (Ioffe & Szegedy 2015, section 3):
//   dx = gamma * rstd * (dy - mean(dy) - xhat * mean(dy * xhat))
// Inference, weights, config and class name are those of the tfjs layer, so export and loading see a
// plain BatchNormalization.
import { tf } from '../backend.ts';

type BnArgs = Parameters<typeof tf.layers.batchNormalization>[0];
type BnInstance = ReturnType<typeof tf.layers.batchNormalization>;
const Base = Object.getPrototypeOf(tf.layers.batchNormalization({})).constructor as new (args?: BnArgs) => BnInstance;

interface BnInternals {
  gamma: tf.LayerVariable;
  beta: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
  epsilon: number;
  momentum: number;
  axis: number;
}

export class FastBatchNorm extends Base {
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor;
    const self = this as unknown as BnInternals;
    const lastAxis = self.axis === -1 || self.axis === x.rank - 1;
    if (kwargs.training !== true || x.rank !== 4 || !lastAxis) return super.call(inputs, kwargs);
    const eps = self.epsilon;
    const momentum = self.momentum;
    const movingMean = self.movingMean;
    const movingVariance = self.movingVariance;
    const op = tf.customGrad(((xs: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, save: tf.GradSaveFunc) => {
      const axes = [0, 1, 2];
      const { mean, variance } = tf.moments(xs, axes);
      const rstd = tf.rsqrt(tf.add(variance, eps));
      const xhat = tf.mul(tf.sub(xs, mean), rstd);
      const value = tf.add(tf.mul(xhat, gamma), beta);
      tf.tidy(() => {
        movingMean.write(tf.sub(movingMean.read(), tf.mul(tf.sub(movingMean.read(), mean), 1 - momentum)));
        movingVariance.write(tf.sub(movingVariance.read(), tf.mul(tf.sub(movingVariance.read(), variance), 1 - momentum)));
      });
      save([xhat, rstd, gamma]);
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xh, rs, g] = saved;
          const dbeta = tf.mean(dy, axes);
          const dgamma = tf.mean(tf.mul(dy, xh), axes);
          const dx = tf.mul(tf.sub(tf.sub(dy, dbeta), tf.mul(xh, dgamma)), tf.mul(g, rs));
          const m = dy.shape[0]! * dy.shape[1]! * dy.shape[2]!;
          return [dx, tf.mul(dgamma, m), tf.mul(dbeta, m)];
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return op(x, self.gamma.read(), self.beta.read());
  }
}

export function fastBatchNorm(args: BnArgs): BnInstance {
  return new FastBatchNorm(args);
}
