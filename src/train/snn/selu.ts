// Scaled exponential linear unit (Klambauer et al. 2017, "Self-Normalizing Neural Networks").
// lambda and alpha are the paper's fixed point constants for zero mean / unit variance
// (eq. 14); tf.selu and ONNX Selu use the same values, so a tfjs 'selu' activation exports 1:1.
import { tf } from '../backend.ts';

export const SELU_LAMBDA = 1.0507009873554804934193349852946;
export const SELU_ALPHA = 1.6732632423543772848170429916717;
/** The value SELU saturates to for x -> -inf; AlphaDropout sets dropped units to it. */
export const SELU_SATURATION = -SELU_LAMBDA * SELU_ALPHA;

/** selu(x) = lambda * (x if x > 0 else alpha * (exp(x) - 1)), on plain numbers (reference). */
export function seluScalar(x: number): number {
  return SELU_LAMBDA * (x > 0 ? x : SELU_ALPHA * Math.expm1(x));
}

/** SELU on tensors (tf.selu has the paper's constants; kept here so SNN code has one entry point). */
export function selu<T extends tf.Tensor>(x: T): T {
  return tf.selu(x);
}

/** The activation identifier to give tfjs layers; the ONNX exporter maps it to the Selu op. */
export const SELU_ACTIVATION = 'selu' as const;
