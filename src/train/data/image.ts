// Image file <-> 8-bit RGB (HWC) through sharp, for the dataset loaders and for handing generated
// scenes to the serving pipeline as files.
import sharp from 'sharp';
import { encodePng as encodePngAt } from '../../codec/png.ts';

export interface RgbImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/** Decodes any format sharp reads (JPEG, PNG, WebP, ...) to RGB, honouring EXIF orientation. */
export async function decodeRgb(input: Uint8Array | string): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(input).autoOrient().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels after conversion, got ${info.channels}`);
    return { width: info.width, height: info.height, rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (e) {
    const what = typeof input === 'string' ? input : 'image bytes';
    throw new Error(`cannot decode ${what}: ${(e as Error).message}`, { cause: e });
  }
}

/** Width and height without decoding pixels (after EXIF orientation). */
export async function imageSize(input: Uint8Array | string): Promise<{ width: number; height: number }> {
  try {
    const m = await sharp(input).metadata();
    if (!m.width || !m.height) throw new Error('no size in header');
    const swap = (m.orientation ?? 1) >= 5;
    return swap ? { width: m.height, height: m.width } : { width: m.width, height: m.height };
  } catch (e) {
    const what = typeof input === 'string' ? input : 'image bytes';
    throw new Error(`cannot read size of ${what}: ${(e as Error).message}`, { cause: e });
  }
}

/** PNG of RGB pixels at zlib level 3: training writes many and keeps few, so speed over size. */
export function encodePng(rgb: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  return encodePngAt(rgb, width, height, 3);
}

export async function encodeJpeg(rgb: Uint8Array, width: number, height: number, quality = 92): Promise<Uint8Array> {
  const buf = await sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality }).toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
