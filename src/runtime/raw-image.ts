// Decoded pixels handed straight to the runtime (a video decoder's frames): no encode/decode round trip.

/** Interleaved 8-bit pixels, row-major, no padding: RGB (3 channels) or RGBA (4). */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3 | 4;
}

export function isRawImage(x: Uint8Array | RawImage): x is RawImage {
  return !(x instanceof Uint8Array);
}

/** Throws RangeError when the buffer does not hold width x height x channels bytes. */
export function checkRawImage(r: RawImage): void {
  if (!(Number.isInteger(r.width) && r.width > 0 && Number.isInteger(r.height) && r.height > 0)) {
    throw new RangeError(`raw image size must be positive integers, got ${r.width}x${r.height}`);
  }
  if (r.channels !== 3 && r.channels !== 4) throw new RangeError(`raw image must have 3 or 4 channels, got ${r.channels}`);
  const want = r.width * r.height * r.channels;
  if (r.data.byteLength !== want) throw new RangeError(`raw image ${r.width}x${r.height}x${r.channels} needs ${want} bytes, got ${r.data.byteLength}`);
}
