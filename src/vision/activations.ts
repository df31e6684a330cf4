// darknet's activations with its float32/double mix, so thresholds cut exactly where darknet cuts.

const f = Math.fround;

/** leaky_activate's slope; the tfjs layers and both ONNX exporters use it too. */
export const LEAKY_ALPHA = 0.1;

/** logistic_activate: 1./(1. + exp(-x)) computed in double, stored as float. */
export function logistic(x: number): number {
  return f(1 / (1 + Math.exp(-x)));
}

/**
 * darknet's CPU softmax (blas.c), temperature 1: max in float, e = exp(float(x - max)), float
 * running sum, out = e / sum. Reads `n` values at src[start + k*stride], writes them to
 * dst[dstStart + k*dstStride] (dst may be src).
 */
export function softmaxStrided(
  src: Float32Array, start: number, n: number, stride: number,
  dst: Float32Array, dstStart: number, dstStride: number,
): void {
  let largest = -3.4028234663852886e38;
  for (let k = 0, i = start; k < n; k++, i += stride) if (src[i] > largest) largest = src[i];
  let sum = 0;
  for (let k = 0, i = start, o = dstStart; k < n; k++, i += stride, o += dstStride) {
    const e = f(Math.exp(f(src[i] - largest)));
    sum = f(sum + e);
    dst[o] = e;
  }
  for (let k = 0, o = dstStart; k < n; k++, o += dstStride) dst[o] = dst[o] / sum;
}
