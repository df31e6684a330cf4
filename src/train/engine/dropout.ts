// Dropout with a reproducible mask per training step. tfjs's Dropout layer either reuses ONE mask for
// every call (when given a seed) or draws from an unseeded generator (when not), so neither trains
// reproducibly. Here the mask of step k comes from seed (layer seed, k), with k set by the training loop
// (and restored on --resume). At inference it is the identity, and it exports as a plain Dropout.
import { tf } from '../backend.ts';

type DropoutArgs = Parameters<typeof tf.layers.dropout>[0];
type DropoutInstance = ReturnType<typeof tf.layers.dropout>;
const Base = Object.getPrototypeOf(tf.layers.dropout({ rate: 0.5 })).constructor as new (args: DropoutArgs) => DropoutInstance;

let currentStep = 0;

/** The training loop calls this before each step's forward pass. */
export function setDropoutStep(step: number): void {
  currentStep = step;
}

export class StepSeededDropout extends Base {
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor;
    const self = this as unknown as { rate: number; seed?: number };
    if (kwargs.training !== true || self.rate <= 0) return super.call(inputs, kwargs);
    // tf.dropout's seed feeds seedrandom, which takes any number; mix the step in
    const seed = ((self.seed ?? 0) * 1000003 + currentStep * 7919) % 2147483647;
    return tf.dropout(x, self.rate, undefined, seed);
  }
}

export function stepSeededDropout(args: DropoutArgs): DropoutInstance {
  return new StepSeededDropout(args);
}
