// Tensor-shape checks shared by the decoders: an output tensor of the wrong shape is the model's or
// the server's fault (plain Error -> 500). Parameters are checked once, before decoding (params.ts).

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
