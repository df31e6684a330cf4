// Image bytes -> float32 NCHW network input, with darknet's preprocessing semantics.
// sharp does the decoding, EXIF orientation and resampling (in libuv threads, off the event loop);
// this module only converts the resized uint8 pixels once, straight into the final tensor layout.
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { PinholeError } from '../errors.ts';
import type { InputSpec } from '../manifest.ts';
import { frameOf, pasteGeometry, type BoxFrame, type PasteGeometry, type PreprocessMode } from '../vision/letterbox.ts';

// One libvips thread per image: parallelism comes from concurrent requests on the libuv pool, and
// the cores left over belong to ONNX Runtime. The operation cache only helps when the same input is
// processed twice, which a server never does; it would just hold memory.
sharp.concurrency(1);
sharp.cache(false);

/** Default cap on decoded pixels (width x height): 40 megapixels, e.g. 8000x5000. */
export const DEFAULT_MAX_INPUT_PIXELS = 40_000_000;

/** Formats accepted as input. SVG/PDF/etc. are refused: they are programs more than pictures. */
const FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif']);

export interface PreprocessOptions {
  maxInputPixels?: number;
}

export interface Preprocessed {
  /** C*H*W float32, RGB/255 planar, ready to be one slot of an NCHW batch */
  data: Float32Array;
  /** original image size after EXIF orientation: the frame the boxes are reported in */
  width: number;
  height: number;
  geometry: PasteGeometry;
  /** the inverse map of `geometry`, which the decoder applies to this image's boxes */
  frame: BoxFrame;
}

// v/255 rounded to float32 exactly as darknet's `data[i]/255.` then stored in a float.
const INV255 = Float32Array.from({ length: 256 }, (_, v) => v / 255);

function badImage(msg: string, cause?: unknown): PinholeError {
  return new PinholeError('bad_image', msg, { cause });
}

/** sharp's error text for the failures a client causes, mapped to our codes. */
function mapSharpError(e: unknown): PinholeError {
  const msg = e instanceof Error ? e.message : String(e);
  if (/pixel limit/i.test(msg)) return new PinholeError('too_large', `image too large: ${msg}`, { cause: e });
  if (/unsupported image format/i.test(msg)) return badImage('not a supported image (expected JPEG, PNG, WebP, GIF or TIFF)', e);
  return badImage(`cannot decode image: ${msg.replace(/^Vips\w*:\s*/, '').split('\n')[0]}`, e);
}

/**
 * Decodes `bytes` and lays the picture out as the network input described by `spec`:
 * letterbox (darknet: integer scaled size, centred, canvas exactly 0.5) or plain resize.
 * Throws PinholeError bad_image for anything that is not a whole, supported image and too_large for
 * images over the pixel limit (checked on the header, before any pixel is decoded).
 */
export async function preprocess(bytes: Uint8Array, spec: InputSpec, mode: PreprocessMode,
  opts: PreprocessOptions = {}): Promise<Preprocessed> {
  if (bytes.byteLength === 0) throw badImage('empty image (0 bytes)');
  const maxPixels = opts.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  // failOn 'warning' (sharp's default, made explicit): a truncated or damaged file is an error,
  // never a half-grey picture that would yield plausible but wrong boxes.
  const img = sharp(bytes, { failOn: 'warning', limitInputPixels: maxPixels, autoOrient: true });
  let meta: Metadata;
  try {
    // Header only, no limit, so that an oversized image is refused below with its dimensions named.
    meta = await sharp(bytes, { failOn: 'warning', limitInputPixels: false }).metadata();
  } catch (e) {
    throw mapSharpError(e);
  }
  if (!FORMATS.has(meta.format)) throw badImage(`unsupported image format "${meta.format}" (expected JPEG, PNG, WebP, GIF or TIFF)`);
  const { width, height } = meta.autoOrient;
  if (!(width > 0 && height > 0)) throw badImage('image has no pixels');
  if (width * height > maxPixels) {
    throw new PinholeError('too_large', `image too large: ${width}x${height} exceeds the limit of ${maxPixels} pixels`);
  }
  const C = spec.channels, H = spec.height, W = spec.width;
  if (C !== 3 && C !== 1) throw new Error(`input with ${C} channels is not supported (model.json input.channels)`);
  const g = pasteGeometry(mode, width, height, W, H);

  let pipe = img;
  // At the network size already (e.g. conformance PNGs): no resampling at all, pixels go as they are.
  // Otherwise no sharp kernel is darknet's corner-aligned bilinear; on dog.jpg -> 416x312 the mean
  // |difference| to darknet's input is .0098 for cubic (.0111 linear, .0106 lanczos3): cubic it is.
  if (g.newW !== width || g.newH !== height) pipe = pipe.resize(g.newW, g.newH, { fit: 'fill', kernel: 'cubic' });
  pipe = C === 1 ? pipe.removeAlpha().toColourspace('b-w') : pipe.removeAlpha().toColourspace('srgb');
  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await pipe.raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw mapSharpError(e);
  }
  const { data: px, info } = raw;
  if (info.width !== g.newW || info.height !== g.newH || info.channels !== C) {
    throw new Error(`sharp produced ${info.width}x${info.height}x${info.channels}, expected ${g.newW}x${g.newH}x${C}`);
  }

  const plane = W * H;
  const out = new Float32Array(C * plane);
  const full = g.newW === W && g.newH === H;
  // exactly 0.5, as darknet's canvas: a uint8 grey (127 or 128) could not represent it
  if (!full) out.fill(g.fill);
  const rowLen = g.newW;
  for (let y = 0; y < g.newH; y++) {
    const src = y * rowLen * C;
    const dst = (y + g.dy) * W + g.dx;
    if (C === 3) {
      const r = dst, gg = dst + plane, b = dst + 2 * plane;
      for (let x = 0, s = src; x < rowLen; x++, s += 3) {
        out[r + x] = INV255[px[s]];
        out[gg + x] = INV255[px[s + 1]];
        out[b + x] = INV255[px[s + 2]];
      }
    } else {
      for (let x = 0; x < rowLen; x++) out[dst + x] = INV255[px[src + x]];
    }
  }
  return { data: out, width, height, geometry: g, frame: frameOf(g, { width, height }) };
}
