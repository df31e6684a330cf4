// Boundary checks shared by the decoders. A bad caller parameter is the client's mistake (400);
// an output tensor of the wrong shape is the model's or server's fault (plain Error -> 500).

import { PinholeError } from '../errors.ts';

/** Validates the batch tensor against the per-image size and returns N. */
export function checkBatch(output: Float32Array, dims: readonly number[], perImage: number, images: number, what: string): number {
  if (dims.length < 1 || dims.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${what}: bad output dims [${dims.join(', ')}]`);
  }
  const n = dims[0];
  const total = dims.reduce((a, d) => a * d, 1);
  if (total !== output.length) throw new Error(`${what}: dims [${dims.join(', ')}] hold ${total} values, tensor has ${output.length}`);
  if (total !== n * perImage) {
    throw new Error(`${what}: expected ${perImage} values per image, output dims are [${dims.join(', ')}]`);
  }
  if (images !== n) throw new Error(`${what}: ${n} images in the output but ${images} image sizes given`);
  return n;
}

export function checkThresh(v: number, name: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) {
    throw new PinholeError('bad_parameter', `${name} must be a number in [0, 1], got ${v}`);
  }
}
