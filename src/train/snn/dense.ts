// A fully connected SNN layer: LeCun-normal weights, zero bias, SELU.
import { tf } from '../backend.ts';
import { lecunNormal } from './init.ts';
import { SELU_ACTIVATION } from './selu.ts';

export function seluDense(units: number, opts: { name?: string; seed?: number; inputShape?: number[] } = {}): tf.layers.Layer {
  return tf.layers.dense({
    units,
    activation: SELU_ACTIVATION,
    kernelInitializer: lecunNormal({ seed: opts.seed }),
    biasInitializer: 'zeros',
    name: opts.name,
    inputShape: opts.inputShape,
  });
}
