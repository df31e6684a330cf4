// PNG encoding of 8-bit RGB pixels, shared by the serving side (generated images) and training (previews,
// synthetic scenes written as files): one floor below both, since neither may import the other.
import sharp from 'sharp';

/**
 * Encodes interleaved RGB as PNG. `compressionLevel` trades size for time (zlib 0-9): PNG is lossless,
 * so every level decodes to the same pixels.
 */
export async function encodePng(rgb: Uint8Array, width: number, height: number, compressionLevel = 6): Promise<Uint8Array> {
  const buf = await sharp(rgb, { raw: { width, height, channels: 3 } }).png({ compressionLevel }).toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
