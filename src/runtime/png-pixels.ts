// A plain 8-bit PNG's full-size pixels decoded by @napi-rs/image (Rust's png crate) instead of libvips.
// libvips decodes in strips handed between its threads: ~40 thread switches for a 720x528 frame, and
// ~1.5 ms of that alone even for a black one (bench/README.md, faces). For the models that sample the
// decoded picture themselves (bilinear-tf) the PNG goes through this decoder in one task on libuv's
// pool instead: the same bytes out (PNG is lossless; grey is replicated as libvips' sRGB conversion
// does, alpha dropped as removeAlpha does; test/png-pixels checks both against sharp).
// Anything else, and any file this decoder refuses, goes to sharp as before, which then decodes it or
// words the error: so no damaged file gets through that sharp would have refused.

/** Channels the decoder gives per PNG colour type: grey, RGB, grey + alpha, RGBA (palette and 16-bit: sharp). */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

/**
 * Largest picture decoded on the calling thread when asked (`inline`): ~2-3 ms for a 720x528 frame, so a
 * megapixel blocks the event loop for ~7 ms at most; larger pictures go to libuv's pool whatever is asked.
 */
export const INLINE_MAX_PIXELS = 1_000_000;

/** Whether `pngRgb` decodes a width x height picture on the calling thread. */
export function decodesInline(width: number, height: number, inline: boolean): boolean {
  return inline && width * height <= INLINE_MAX_PIXELS;
}

type Decoder = typeof import('@napi-rs/image');
let decoder: Promise<Decoder | undefined> | undefined;

/** The native decoder, or undefined where its prebuilt binary is missing (sharp serves every PNG then). */
function loadDecoder(): Promise<Decoder | undefined> {
  decoder ??= import('@napi-rs/image').then((m) => m, () => undefined);
  return decoder;
}

/** Starts loading the decoder's native library (~16 ms), so that the first PNG does not wait for it. */
export function preloadPngDecoder(): void {
  void loadDecoder();
}

/** The colour type of an 8-bit, non-palette PNG whose header says `width` x `height`; else undefined. */
export function plainPngType(bytes: Uint8Array, width: number, height: number): number | undefined {
  if (bytes.length < 33) return undefined;
  const v = new DataView(bytes.buffer, bytes.byteOffset, 33);
  // IHDR is the first chunk: length 13, then width, height, bit depth, colour type
  if (v.getUint32(8) !== 13 || v.getUint32(12) !== 0x49484452) return undefined;
  if (v.getUint32(16) !== width || v.getUint32(20) !== height || bytes[24] !== 8) return undefined;
  return CHANNELS[bytes[25]] === undefined ? undefined : bytes[25];
}

/**
 * Interleaved RGB (3 bytes a pixel) of a PNG whose header gave `width` x `height` (EXIF orientation none:
 * the caller's header read refused PNGs with an eXIf chunk), as sharp's removeAlpha + toColourspace('srgb')
 * gives them; undefined when it is not a plain 8-bit PNG or the decoder refuses it. `inline`: decoded on the
 * calling thread, which has nothing else to do meanwhile (a lone request), instead of in a task on libuv's
 * pool: no thread to wake and no completion to wait for (bench/README.md, faces); up to INLINE_MAX_PIXELS.
 */
export async function pngRgb(bytes: Uint8Array, width: number, height: number, inline = false): Promise<Uint8Array | undefined> {
  const type = plainPngType(bytes, width, height);
  if (type === undefined) return undefined;
  const napi = await loadDecoder();
  if (!napi) return undefined;
  let px: Uint8Array;
  try {
    const t = new napi.Transformer(bytes);
    px = decodesInline(width, height, inline) ? t.rawPixelsSync() : await t.rawPixels();
  } catch {
    return undefined;
  }
  const n = width * height, ch = CHANNELS[type];
  if (px.length !== n * ch) return undefined;
  return ch === 3 ? px : toRgb(px, n, ch);
}

/** grey, grey + alpha or RGBA to RGB: grey replicated, alpha dropped */
function toRgb(px: Uint8Array, n: number, ch: number): Uint8Array {
  const out = new Uint8Array(n * 3);
  if (ch === 4) {
    for (let i = 0, s = 0, d = 0; i < n; i++, s += 4, d += 3) {
      out[d] = px[s]; out[d + 1] = px[s + 1]; out[d + 2] = px[s + 2];
    }
  } else {
    for (let i = 0, s = 0, d = 0; i < n; i++, s += ch, d += 3) {
      const g = px[s];
      out[d] = g; out[d + 1] = g; out[d + 2] = g;
    }
  }
  return out;
}
