// Image bytes -> float32 NCHW network input, with darknet's preprocessing semantics by default and the
// model's own pixel layout when model.json gives one (pad-square, mean/std, TensorFlow's bilinear, cubic).
// sharp does the decoding and EXIF orientation (in libuv threads, off the event loop); darknet's own
// resize_image (src/vision/resample-darknet.ts) lays the full-size pixels into the tensor, value for value
// darknet's input, except for a JPEG that sharp shrinks while decoding, which sharp's cubic resizes and this
// module converts once into the tensor (bilinear-tf samples the decoded pixels itself: src/vision/resample.ts;
// a plain PNG that either sampler takes is decoded without libvips: png-pixels.ts; a JPEG that libjpeg-turbo
// gives exactly as sharp does is decoded by it, shrunk on load where sharp would: jpeg-turbo.ts).
import { imageSize } from 'image-size';
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { PinholeError } from '../errors.ts';
import type { InputSpec, Manifest } from '../manifest.ts';
import { frameOf, pasteGeometry, type BoxFrame, type PadPosition, type PasteGeometry, type PreprocessMode } from '../vision/letterbox.ts';
import { resampleBilinear } from '../vision/resample.ts';
import { resampleDarknet } from '../vision/resample-darknet.ts';
import { jpegFrame } from './jpeg-markers.ts';
import { withTurboRgb } from './jpeg-turbo.ts';
import { pngRgb } from './png-pixels.ts';
import { checkRawImage, isRawImage, type RawImage } from './raw-image.ts';

// One libvips thread per image: parallelism comes from concurrent requests on the libuv pool, and
// the cores left over belong to ONNX Runtime. The operation cache only helps when the same input is
// processed twice, which a server never does; it would just hold memory.
sharp.concurrency(1);
sharp.cache(false);

/** Default cap on decoded pixels (width x height): 40 megapixels, e.g. 8000x5000. */
export const DEFAULT_MAX_INPUT_PIXELS = 40_000_000;

/** Formats accepted as input. SVG/PDF/etc. are refused: they are programs more than pictures. */
// 'heif' is AVIF here: sharp's prebuilt libvips decodes AV1 HEIF only (HEIC/HEVC fails to decode: bad_image).
// Animated GIF and multi-page TIFF: the first frame/page.
const FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif']);
const EXPECTED = 'expected JPEG, PNG, WebP, GIF, TIFF or AVIF';

export interface PreprocessOptions {
  maxInputPixels?: number;
  /**
   * Where the tensor goes: a buffer of `length` floats (default a new one). Every value is written, so a
   * recycled buffer (runtime/tensor-pool.ts) needs no clearing.
   */
  alloc?: (length: number) => Float32Array;
  /**
   * The calling thread has nothing else to do while this image is decoded (a lone request): a plain PNG is
   * then decoded on it rather than on libuv's pool (png-pixels.ts). Default: on the pool.
   */
  inline?: boolean;
}

const fresh = (length: number) => new Float32Array(length);

/**
 * How a model wants its pixels (model.json preprocess, pad, pad_value, mean, std, resample); a bare
 * mode means darknet's: pixel / 255, and darknet's own bilinear where it costs no more than sharp's
 * cubic (`exactDarknet`).
 */
export interface PixelLayout {
  mode: PreprocessMode;
  pad?: PadPosition;
  padValue?: number;
  mean?: readonly number[];
  std?: readonly number[];
  resample?: Resample;
}

export type Resample = NonNullable<Manifest['resample']>;

export function pixelLayout(m: Pick<Manifest, 'preprocess' | 'pad' | 'pad_value' | 'mean' | 'std' | 'resample'>): PixelLayout {
  return { mode: m.preprocess, pad: m.pad, padValue: m.pad_value, mean: m.mean, std: m.std, resample: m.resample };
}

export interface Preprocessed {
  /** C*H*W float32, RGB planar, normalised (darknet: /255), ready to be one slot of an NCHW batch */
  data: Float32Array;
  /** original image size after EXIF orientation: the frame the boxes are reported in */
  width: number;
  height: number;
  geometry: PasteGeometry;
  /** the inverse map of `geometry`, which the decoder applies to this image's boxes */
  frame: BoxFrame;
}

const f = Math.fround;

// Per channel, every 8-bit value normalised once: (v - mean) / std in float32. The default (mean 0,
// std 255) is v/255 rounded to float32 exactly as darknet's `data[i]/255.` then stored in a float.
const lutCache = new Map<string, Float32Array[]>();
function channelLuts(C: number, mean: readonly number[] = [], std: readonly number[] = []): Float32Array[] {
  const key = `${C}|${mean.join(',')}|${std.join(',')}`;
  let luts = lutCache.get(key);
  if (!luts) {
    luts = Array.from({ length: C }, (_, c) => {
      const m = f(mean[c] ?? 0), s = f(std[c] ?? 255);
      return Float32Array.from({ length: 256 }, (_, v) => f(f(v - m) / s));
    });
    lutCache.set(key, luts);
  }
  return luts;
}

const normalised = (v: number, c: number, L: PixelLayout) => f(f(v - f(L.mean?.[c] ?? 0)) / f(L.std?.[c] ?? 255));

function badImage(msg: string, cause?: unknown): PinholeError {
  return new PinholeError('bad_image', msg, { cause });
}

/** sharp's error text for the failures a client causes, mapped to our codes. */
function mapSharpError(e: unknown): PinholeError {
  const msg = e instanceof Error ? e.message : String(e);
  if (/pixel limit/i.test(msg)) return new PinholeError('too_large', `image too large: ${msg}`, { cause: e });
  if (/unsupported image format/i.test(msg)) return badImage(`not a supported image (${EXPECTED})`, e);
  return badImage(`cannot decode image: ${msg.replace(/^Vips\w*:\s*/, '').split('\n')[0]}`, e);
}

/** Decoded pixels (a video frame): sharp only resizes them, and the darknet sampler takes RGB as it is. */
function fromRaw(r: RawImage): Source {
  try {
    checkRawImage(r);
  } catch (e) {
    throw badImage((e as Error).message);
  }
  const img = sharp(r.data, { raw: { width: r.width, height: r.height, channels: r.channels } });
  return { img, width: r.width, height: r.height, ...(r.channels === 3 ? { rgb: r.data } : {}) };
}

/**
 * A JPEG's or PNG's displayed size (EXIF orientation applied) read from its header in JavaScript, in
 * microseconds: sharp's own header read is a second libvips load of the file before the decoding one
 * (0.4-0.9 ms and a round trip through libuv's pool per image), and the metadata buffers it returns drove
 * the main thread's full garbage collections (~0.8 ms per request on dog.jpg; bench/README.md, branch
 * pre). Undefined whenever the header leaves any doubt (another format, no frame header found, an
 * orientation outside 1-8, an EXIF block whose orientation the reader could not take, a PNG with an eXIf
 * chunk), so that sharp reads the header and words any error itself.
 */
export function headerSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return jpegSize(bytes);
  if (!(bytes.length >= 24 && PNG_SIGNATURE.every((b, i) => bytes[i] === b))) return undefined;
  let s: ReturnType<typeof imageSize>;
  try {
    s = imageSize(bytes);
  } catch {
    return undefined;
  }
  if (s.type !== 'png' || !(s.width > 0 && s.height > 0)) return undefined;
  // libvips takes a PNG's orientation from its eXIf chunk, which image-size does not read
  return contains(bytes, EXIF_CHUNK) ? undefined : { width: s.width, height: s.height };
}

/**
 * A JPEG's displayed size from the header walk of jpeg-markers.ts, which reads the EXIF orientation as libvips
 * does (the first EXIF block; image-size took the last one's) and gives none when it is not sure.
 */
function jpegSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  const f = jpegFrame(bytes);
  if (!f || f.orientation === undefined || !(f.width > 0 && f.height > 0)) return undefined;
  // orientations 5-8 turn the picture by a quarter: the displayed width is the stored height
  return f.orientation >= 5 ? { width: f.height, height: f.width } : { width: f.width, height: f.height };
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const EXIF_CHUNK = Buffer.from('eXIf', 'latin1');

function contains(bytes: Uint8Array, what: Buffer): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).indexOf(what) >= 0;
}

/**
 * A picture to decode: sharp's pipeline on it, its displayed size, the bytes of a PNG whose header read
 * was sure, its format (sharp's name; absent for decoded pixels), and the pixels themselves when they
 * came decoded as interleaved RGB.
 */
interface Source {
  img: Sharp;
  width: number;
  height: number;
  png?: Uint8Array;
  /** a JPEG's bytes, when its header read was sure, and the pixel limit its decode must respect */
  jpeg?: Uint8Array;
  maxPixels?: number;
  format?: string;
  rgb?: Uint8Array;
}

async function fromEncoded(bytes: Uint8Array, maxPixels: number): Promise<Source> {
  if (bytes.byteLength === 0) throw badImage('empty image (0 bytes)');
  // failOn 'warning' (sharp's default, made explicit): a truncated or damaged file is an error,
  // never a half-grey picture that would yield plausible but wrong boxes.
  // ignoreIcc: darknet's stb_image (and OpenCV's imread) never apply an embedded colour profile, so
  // neither do we; on dog.jpg the profile's transform cost ~10 ms of CPU, two thirds of the decode.
  const img = sharp(bytes, { failOn: 'warning', limitInputPixels: maxPixels, autoOrient: true, ignoreIcc: true });
  // JPEG (cameras, streams) and PNG: one libvips load, the decoding one, which still enforces the pixel limit
  const quick = headerSize(bytes);
  if (quick) return { img, ...quick, ...(bytes[0] === 0x89 ? { png: bytes, format: 'png' } : { jpeg: bytes, maxPixels, format: 'jpeg' }) };
  let meta: Metadata;
  try {
    // Header only, no limit, so that an oversized image is refused below with its dimensions named.
    meta = await sharp(bytes, { failOn: 'warning', limitInputPixels: false }).metadata();
  } catch (e) {
    throw mapSharpError(e);
  }
  if (!FORMATS.has(meta.format)) throw badImage(`unsupported image format "${meta.format}" (${EXPECTED})`);
  const { width, height } = meta.autoOrient;
  if (!(width > 0 && height > 0)) throw badImage('image has no pixels');
  return { img, width, height, format: meta.format };
}

/**
 * Whether a letterbox or resize model gets darknet's own resampling of this picture (resample-darknet.ts
 * on the full-size decode: darknet's input value for value) rather than sharp's cubic.
 * `bilinear-darknet` and `cubic` say so outright. The default takes darknet's unless sharp would shrink the
 * picture while decoding it, where the full-size decode darknet's resampling needs costs more than it
 * saves (bench/README.md, "darknet's resize"): a JPEG reduced 3x or more in both directions (libjpeg's
 * DCT-domain shrink: sharp uses it from a factor of 2 but leaves an integral 2 to the resize), a WebP
 * reduced at all (libwebp scales while decoding). Anything else sharp decodes whole anyway, and the
 * sampler costs less than its cubic resize and the fill after it.
 */
export function exactDarknet(resample: Resample | undefined, src: { width: number; height: number; format?: string }, g: PasteGeometry): boolean {
  if (resample !== undefined) return resample === 'bilinear-darknet';
  const shrink = Math.min(src.width / g.newW, src.height / g.newH);
  if (src.format === 'jpeg') return shrink < JPEG_SHRINK_FROM;
  if (src.format === 'webp') return shrink <= 1;
  return true;
}

/**
 * Whether PNGs for this layout can reach png-pixels.ts' decoder (TensorFlow's and darknet's sampling decode
 * the full picture themselves): the server then loads that decoder with the model, not on the first PNG.
 */
export function decodesPngItself(L: PixelLayout): boolean {
  return L.resample === 'bilinear-tf' || (L.mode !== 'pad-square' && L.resample !== 'cubic');
}

/** sharp shrinks a JPEG on load when both sides are reduced this much (its pipeline.cc, fastShrinkOnLoad). */
export const JPEG_SHRINK_FROM = 3;

/**
 * Decodes `bytes` (or takes decoded RGB/RGBA pixels as they are, a video frame) and lays the picture out
 * as the network input described by `spec`: letterbox (darknet: integer scaled size, centred, canvas
 * exactly 0.5) or plain resize. Throws PinholeError bad_image for anything that is not a whole, supported
 * image and too_large for images over the pixel limit (checked on the header, before any pixel is decoded).
 */
export async function preprocess(bytes: Uint8Array | RawImage, spec: InputSpec, layout: PreprocessMode | PixelLayout,
  opts: PreprocessOptions = {}): Promise<Preprocessed> {
  const L: PixelLayout = typeof layout === 'string' ? { mode: layout } : layout;
  const mode = L.mode;
  const maxPixels = opts.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
  const src: Source = isRawImage(bytes) ? fromRaw(bytes) : await fromEncoded(bytes, maxPixels);
  const { width, height } = src;
  if (width * height > maxPixels) {
    throw new PinholeError('too_large', `image too large: ${width}x${height} exceeds the limit of ${maxPixels} pixels`);
  }
  const C = spec.channels, H = spec.height, W = spec.width;
  if (C !== 3 && C !== 1) throw new Error(`input with ${C} channels is not supported (model.json input.channels)`);
  const g = pasteGeometry(mode, width, height, W, H, L.pad);
  if (mode === 'pad-square' || L.resample === 'bilinear-tf') {
    const data = await sampled(src, spec, L, g, opts.alloc ?? fresh, opts.inline === true);
    return { data, width, height, geometry: g, frame: frameOf(g, { width, height }) };
  }
  if (exactDarknet(L.resample, src, g)) {
    const data = await darknetSampled(src, spec, L, g, opts.alloc ?? fresh, opts.inline === true);
    return { data, width, height, geometry: g, frame: frameOf(g, { width, height }) };
  }

  const { data: px, info } = await cubicPixels(src, C, g);
  if (info.width !== g.newW || info.height !== g.newH || info.channels !== C) {
    throw new Error(`sharp produced ${info.width}x${info.height}x${info.channels}, expected ${g.newW}x${g.newH}x${C}`);
  }

  const plane = W * H;
  const out = (opts.alloc ?? fresh)(C * plane);
  fillCanvas(out, C, W, H, g, L);
  pastePixels(out, px, g, W, plane, C, channelLuts(C, L.mean, L.std));
  return { data: out, width, height, geometry: g, frame: frameOf(g, { width, height }) };
}

/**
 * The picture at its pasted size by sharp's cubic, interleaved. At the network size already (e.g. conformance
 * PNGs): no resampling at all, pixels go as they are. Otherwise no sharp kernel is darknet's corner-aligned
 * bilinear; on dog.jpg -> 416x312 the mean |difference| to darknet's input is .0098 for cubic (.0111 linear,
 * .0106 lanczos3): cubic it is, for big JPEGs and models that ask for it. A JPEG libjpeg-turbo takes is
 * decoded there, shrunk on load by sharp's own factor, and sharp resizes those pixels: the same bytes out
 * (test/jpeg-turbo).
 */
async function cubicPixels(src: Source, C: number, g: PasteGeometry): Promise<{ data: Buffer; info: OutputInfo }> {
  const resize = (p: Sharp) => (g.newW !== src.width || g.newH !== src.height ? p.resize(g.newW, g.newH, { fit: 'fill', kernel: 'cubic' }) : p);
  if (C === 3 && src.jpeg) {
    const shrink = jpegShrinkOnLoad(src.width, src.height, g.newW, g.newH);
    const turbo = await withTurboRgb(src.jpeg, src.width, src.height, src.maxPixels ?? DEFAULT_MAX_INPUT_PIXELS,
      (px, w, h) => rawPixels(resize(sharp(px, { raw: { width: w, height: h, channels: 3 } })), C), shrink);
    if (turbo) return turbo.value;
  }
  return rawPixels(resize(src.img), C);
}

/**
 * The factor sharp shrinks a JPEG by while decoding it for a resize to newW x newH (its pipeline.cc: the
 * largest of 8, 4, 2 the smaller reduction reaches, halved when it equals that reduction's integer part).
 */
export function jpegShrinkOnLoad(width: number, height: number, newW: number, newH: number): number {
  const shrink = Math.min(width / newW, height / newH);
  const f = shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
  return f > 1 && Math.trunc(shrink) === f ? f / 2 : f;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * The resized uint8 pixels (interleaved) into the tensor's planes at the paste offset, each value through
 * its channel's table. RGB rows of a width divisible by 4 are read as 32-bit words, four pixels from three
 * words: 0.36 against 0.62 ms for dog.jpg's 416x312 in a loop of one process (bench/README.md, branch pre),
 * the same values.
 */
function pastePixels(out: Float32Array, px: Uint8Array, g: PasteGeometry, W: number, plane: number, C: number, luts: Float32Array[]): void {
  const [l0, l1, l2] = luts;
  const rowLen = g.newW;
  const words = C === 3 && rowLen % 4 === 0 && px.byteOffset % 4 === 0 && LITTLE_ENDIAN
    ? new Uint32Array(px.buffer, px.byteOffset, (rowLen * 3 * g.newH) / 4) : undefined;
  for (let y = 0; y < g.newH; y++) {
    const src = y * rowLen * C;
    const r = (y + g.dy) * W + g.dx;
    if (words) {
      const gg = r + plane, b = r + 2 * plane;
      for (let x = 0, w = src / 4; x < rowLen; x += 4, w += 3) {
        const p = words[w], q = words[w + 1], t = words[w + 2];
        out[r + x] = l0[p & 255]; out[gg + x] = l1[(p >>> 8) & 255]; out[b + x] = l2[(p >>> 16) & 255];
        out[r + x + 1] = l0[p >>> 24]; out[gg + x + 1] = l1[q & 255]; out[b + x + 1] = l2[(q >>> 8) & 255];
        out[r + x + 2] = l0[(q >>> 16) & 255]; out[gg + x + 2] = l1[q >>> 24]; out[b + x + 2] = l2[t & 255];
        out[r + x + 3] = l0[(t >>> 8) & 255]; out[gg + x + 3] = l1[(t >>> 16) & 255]; out[b + x + 3] = l2[t >>> 24];
      }
    } else if (C === 3) {
      const gg = r + plane, b = r + 2 * plane;
      for (let x = 0, s = src; x < rowLen; x++, s += 3) {
        out[r + x] = l0[px[s]];
        out[gg + x] = l1[px[s + 1]];
        out[b + x] = l2[px[s + 2]];
      }
    } else {
      for (let x = 0; x < rowLen; x++) out[r + x] = l0[px[src + x]];
    }
  }
}

/**
 * Every plane's canvas outside the picture's rectangle, in the layout's normalisation; the picture's own
 * values are written after. darknet's canvas is exactly 0.5 (127.5 in pixel units): a uint8 grey could not
 * represent it, so it is written here in float.
 */
function fillCanvas(out: Float32Array, C: number, W: number, H: number, g: PasteGeometry, L: PixelLayout): void {
  if (g.newW === W && g.newH === H) return;
  for (let c = 0; c < C; c++) fillAround(out, c * W * H, W, H, g, normalised(g.fill * 255, c, L));
}

/** The canvas of one plane outside the pasted picture. */
function fillAround(out: Float32Array, at: number, W: number, H: number, g: PasteGeometry, v: number): void {
  const top = g.dy, bottom = g.dy + g.newH;
  out.fill(v, at, at + top * W);
  out.fill(v, at + bottom * W, at + H * W);
  if (g.newW === W) return;
  for (let y = top; y < bottom; y++) {
    const row = at + y * W;
    out.fill(v, row, row + g.dx);
    out.fill(v, row + g.dx + g.newW, row + W);
  }
}

async function rawPixels(pipe: Sharp, C: number): Promise<{ data: Buffer; info: OutputInfo }> {
  const p = C === 1 ? pipe.removeAlpha().toColourspace('b-w') : pipe.removeAlpha().toColourspace('srgb');
  try {
    return await p.raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw mapSharpError(e);
  }
}

/**
 * The picture decoded at its full size, C channels interleaved, handed to `use` (which is done with them when
 * it returns): RGB pixels given as such, a JPEG by libjpeg-turbo into a buffer the next decode reuses
 * (jpeg-turbo.ts), a plain PNG without libvips (png-pixels.ts), else sharp.
 */
async function withFullPixels<T>(im: Source, C: number, inline: boolean, use: (px: Uint8Array) => T): Promise<T> {
  if (C === 3 && im.rgb) return use(im.rgb);
  const turbo = C === 3 && im.jpeg ? await withTurboRgb(im.jpeg, im.width, im.height, im.maxPixels ?? DEFAULT_MAX_INPUT_PIXELS, use) : undefined;
  if (turbo) return turbo.value;
  const px = C === 3 && im.png ? await pngRgb(im.png, im.width, im.height, inline) : undefined;
  if (px) return use(px);
  const { data, info } = await rawPixels(im.img, C);
  if (info.width !== im.width || info.height !== im.height) throw new Error(`sharp decoded ${info.width}x${info.height}, expected ${im.width}x${im.height}`);
  return use(data);
}

/** letterbox or resize with darknet's resize_image (resample-darknet.ts) on the full-size pixels, around it darknet's .5 canvas. */
async function darknetSampled(im: Source, spec: InputSpec, L: PixelLayout,
  g: PasteGeometry, alloc: (length: number) => Float32Array, inline: boolean): Promise<Float32Array> {
  const C = spec.channels, W = spec.width, H = spec.height;
  return withFullPixels(im, C, inline, (pixels) => {
    const out = alloc(C * W * H);
    fillCanvas(out, C, W, H, g, L);
    resampleDarknet({ pixels, width: im.width, height: im.height, channels: C },
      { out, netW: W, netH: H, dx: g.dx, dy: g.dy, outW: g.newW, outH: g.newH, mean: L.mean ?? [0, 0, 0], std: L.std ?? [255, 255, 255] });
    return out;
  });
}

/**
 * pad-square and/or TensorFlow-bilinear sampling. The picture is decoded at full size; pad-square
 * pads it to a square at that size (face-api's padToSquare) before the square is resized, so the
 * resampler blends image and padding along the seam as face-api's resize does.
 */
async function sampled(im: Source, spec: InputSpec, L: PixelLayout,
  g: PasteGeometry, alloc: (length: number) => Float32Array, inline: boolean): Promise<Float32Array> {
  const C = spec.channels, W = spec.width, H = spec.height;
  const img = im.img;
  const sq = g.square;
  const padValue = L.padValue ?? 0;
  const out = alloc(C * W * H);
  if (L.resample === 'bilinear-tf') {
    return withFullPixels(im, C, inline, (data) => {
      fillCanvas(out, C, W, H, g, L);
      resampleBilinear(
        { pixels: data, width: im.width, height: im.height, channels: C, canvasW: sq?.side ?? im.width, canvasH: sq?.side ?? im.height,
          left: sq?.left ?? 0, top: sq?.top ?? 0, padValue },
        { out, netW: W, netH: H, dx: g.dx, dy: g.dy, outW: g.newW, outH: g.newH, mean: L.mean ?? [0, 0, 0], std: L.std ?? [255, 255, 255] });
      return out;
    });
  }
  // pad-square with sharp's cubic: sharp extends after it resizes, so the square is made in a first pass
  // (a JPEG libjpeg-turbo decodes is laid into the square here: the same bytes as sharp's extend of a uint8 value)
  const bg = { r: padValue, g: padValue, b: padValue };
  const turbo = C === 3 && im.jpeg && Number.isInteger(padValue) && padValue >= 0 && padValue <= 255
    ? await withTurboRgb(im.jpeg, im.width, im.height, im.maxPixels ?? DEFAULT_MAX_INPUT_PIXELS, (px) => padded(px, im.width, im.height, sq!, padValue))
    : undefined;
  const square = turbo?.value ?? await rawPixels(img.extend({ left: sq!.left, top: sq!.top, right: sq!.right, bottom: sq!.bottom, background: bg }), C);
  let pipe = sharp(square.data, { raw: { width: square.info.width, height: square.info.height, channels: C as 1 | 3 } });
  if (sq!.side !== W || sq!.side !== H) pipe = pipe.resize(W, H, { fit: 'fill', kernel: 'cubic' });
  const { data: px } = await rawPixels(pipe, C);
  const luts = channelLuts(C, L.mean, L.std);
  for (let c = 0; c < C; c++) {
    const lut = luts[c], o = c * W * H;
    for (let i = 0; i < W * H; i++) out[o + i] = lut[px[i * C + c]];
  }
  return out;
}

/** Interleaved RGB laid into its pad-square (side x side), the rest of the square `value`, as sharp's extend makes it. */
function padded(px: Uint8Array, w: number, h: number, sq: NonNullable<PasteGeometry['square']>, value: number): { data: Buffer; info: { width: number; height: number } } {
  const data = Buffer.alloc(sq.side * sq.side * 3, value);
  for (let y = 0; y < h; y++) data.set(px.subarray(y * w * 3, (y + 1) * w * 3), ((y + sq.top) * sq.side + sq.left) * 3);
  return { data, info: { width: sq.side, height: sq.side } };
}
