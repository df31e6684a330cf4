// JPEG decoding by libjpeg-turbo's own TurboJPEG library (libturbojpeg.so.0, Debian's libturbojpeg0), called
// through koffi. sharp decodes the same files to the same pixels (its libvips links mozjpeg, libjpeg-turbo's
// fork) for 2-2.4x the CPU: libvips hands the picture in strips between its threads and allocates per strip
// (bench/README.md, "JPEG decode at libjpeg-turbo's speed"). A file this module is not sure about
// (jpeg-markers.ts), and every file when the library or koffi cannot load or PINHOLE_JPEG=sharp, goes to sharp
// exactly as before.
import { PinholeError } from '../errors.ts';
import { jpegFrame } from './jpeg-markers.ts';

/** Which decoder serves full-size JPEG decodes in this process, and why. */
export type JpegDecoder = { kind: 'turbo'; library: string } | { kind: 'sharp'; reason: string };

// TurboJPEG's constants (turbojpeg.h, stable since 1.x)
const TJPF_RGB = 0;
const TJFLAG_STOPONWARNING = 8192;
/** RGB, YCbCr, grey: what libjpeg gives as RGB exactly as libvips' sRGB output (CMYK and YCCK are sharp's). */
const TJCS_RGB = 0, TJCS_GRAY = 2;

type Fn = ((...args: unknown[]) => number) & { async: (...args: unknown[]) => void };

interface Binding {
  library: string;
  init: () => unknown;
  destroy: (h: unknown) => number;
  header: Fn;
  decompress: Fn;
  errorStr: (h: unknown) => string;
}

/** Where the library is looked for, unless PINHOLE_TURBOJPEG names the file. */
function libraryNames(): string[] {
  const own = process.env.PINHOLE_TURBOJPEG;
  if (own) return [own];
  if (process.platform === 'darwin') {
    return ['libturbojpeg.0.dylib', '/opt/homebrew/opt/jpeg-turbo/lib/libturbojpeg.0.dylib', '/usr/local/opt/jpeg-turbo/lib/libturbojpeg.0.dylib'];
  }
  if (process.platform === 'win32') return ['turbojpeg.dll'];
  return ['libturbojpeg.so.0'];
}

async function bind(): Promise<Binding | string> {
  const asked = (process.env.PINHOLE_JPEG ?? '').trim().toLowerCase();
  if (asked === 'sharp') return 'PINHOLE_JPEG=sharp';
  if (asked !== '' && asked !== 'turbo') return `PINHOLE_JPEG="${asked}" is neither sharp nor turbo`;
  let koffi: typeof import('koffi');
  try {
    koffi = (await import('koffi')).default;
  } catch (e) {
    return `koffi did not load (${(e as Error).message.split('\n')[0]})`;
  }
  const tried: string[] = [];
  for (const name of libraryNames()) {
    try {
      const lib = koffi.load(name);
      return {
        library: name,
        init: lib.func('void *tjInitDecompress()'),
        destroy: lib.func('int tjDestroy(void *handle)'),
        header: lib.func('int tjDecompressHeader3(void *handle, const uint8_t *buf, unsigned long size, _Out_ int *width, _Out_ int *height, _Out_ int *subsamp, _Out_ int *colorspace)') as Fn,
        decompress: lib.func('int tjDecompress2(void *handle, const uint8_t *buf, unsigned long size, uint8_t *dst, int width, int pitch, int height, int pixelFormat, int flags)') as Fn,
        errorStr: lib.func('const char *tjGetErrorStr2(void *handle)'),
      };
    } catch (e) {
      tried.push(`${name}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return `libturbojpeg did not load (${tried.join('; ')})`;
}

let binding: Promise<Binding | string> | undefined;
const load = () => (binding ??= bind());

/** Loads the library (once per process; ~15 ms, koffi's import) and says which decoder JPEGs get. */
export async function jpegDecoder(): Promise<JpegDecoder> {
  const b = await load();
  return typeof b === 'string' ? { kind: 'sharp', reason: b } : { kind: 'turbo', library: b.library };
}

/** The decoder in a line for the start-up log. */
export function describeJpegDecoder(d: JpegDecoder): string {
  return d.kind === 'turbo' ? `JPEG decoder: libjpeg-turbo (${d.library} via koffi)` : `JPEG decoder: sharp (libvips), because ${d.reason}`;
}

// A TurboJPEG handle is one libjpeg decompressor, not safe for two decodes at once: each decode takes a
// slot, its handle and the buffer it decodes into, and up to MAX_IDLE slots wait for the next decode (as many
// as libuv's pool runs at once, by default). The buffer is reused because fresh memory costs its page faults:
// dog.jpg into a new 1.3 MB Buffer each time 3.27 ms, into the same one 2.59 ms (bench/README.md).
const MAX_IDLE = 4;
/** Larger pictures (beyond 1080p) decode into a buffer of their own, not kept. */
const KEEP_BYTES = 8 << 20;
interface Slot { handle: unknown; buf?: Buffer }
const idle: Slot[] = [];

function takeSlot(b: Binding): Slot {
  const s = idle.pop();
  if (s) return s;
  const handle = b.init();
  if (!handle) throw new Error(`tjInitDecompress failed: ${b.errorStr(null)}`);
  return { handle };
}

function giveSlot(b: Binding, s: Slot): void {
  if (idle.length < MAX_IDLE) idle.push(s);
  else b.destroy(s.handle);
}

/** The slot's buffer, grown to `bytes` where it may be kept, else a one-off. */
function outputOf(s: Slot, bytes: number): Buffer {
  if (bytes > KEEP_BYTES) return Buffer.allocUnsafe(bytes);
  if (!s.buf || s.buf.length < bytes) s.buf = Buffer.allocUnsafe(bytes);
  return s.buf.subarray(0, bytes);
}

/** How many handles wait for a decode (each with its buffer). */
export function idleJpegHandles(): number {
  return idle.length;
}

/** Frees the idle handles and their buffers (at shutdown); a later decode makes new ones. */
export function releaseJpegHandles(): void {
  const b = binding;
  const slots = idle.splice(0);
  if (!b || slots.length === 0) return;
  void b.then((lib) => {
    if (typeof lib !== 'string') for (const s of slots) lib.destroy(s.handle);
  });
}

/**
 * Whether these bytes are a JPEG that libjpeg-turbo decodes to exactly sharp's RGB, displayed as stored:
 * Huffman-coded (baseline, extended, progressive), 8-bit, grey or three components, EXIF orientation 1.
 */
export function turboEligible(bytes: Uint8Array): boolean {
  const f = jpegFrame(bytes);
  return f !== undefined && f.sof <= 0xc2 && f.precision === 8 && (f.components === 1 || f.components === 3) && f.orientation === 1;
}

/**
 * Decodes a JPEG with libjpeg-turbo on libuv's pool and hands its interleaved RGB (grey replicated, as
 * libvips' sRGB conversion does) to `use`, which must be done with the pixels when it (or the promise it
 * returns) settles: the buffer is the next decode's. `scale` (2, 4, 8) decodes it reduced that much in the
 * DCT domain, as sharp's shrink-on-load does, when both sides divide by it (else sharp decodes it).
 * Undefined when sharp is to decode the file instead: no library, a file turboEligible refuses, a header that
 * disagrees with `width` x `height` (the size the caller checked) or gives a colour space other than RGB,
 * YCbCr or grey, and any file libjpeg-turbo cannot decode without a warning. sharp then decodes it or words
 * the error, as before: libjpeg-turbo's warnings stop more damaged files than libvips' do (a flipped bit in a
 * grey JPEG's scan: test/jpeg-turbo), and the message of a failure on libuv's thread cannot be read from
 * this one (TurboJPEG 2 keeps it per thread). Throws PinholeError too_large over `maxPixels`, from the
 * library's own header read, before the pixels are allocated.
 */
export async function withTurboRgb<T>(bytes: Uint8Array, width: number, height: number, maxPixels: number,
  use: (rgb: Uint8Array, width: number, height: number) => T | Promise<T>, scale = 1): Promise<{ value: T } | undefined> {
  if (width % scale !== 0 || height % scale !== 0 || !turboEligible(bytes)) return undefined;
  const b = await load();
  if (typeof b === 'string') return undefined;
  const slot = takeSlot(b), h = slot.handle;
  let ok = false;
  try {
    const w = [0], hh = [0], sub = [0], cs = [0];
    if (b.header(h, bytes, bytes.byteLength, w, hh, sub, cs) !== 0) return undefined;
    ok = true;
    if (w[0] !== width || hh[0] !== height || !(cs[0] >= TJCS_RGB && cs[0] <= TJCS_GRAY)) return undefined;
    if (w[0] * hh[0] > maxPixels) {
      throw new PinholeError('too_large', `image too large: ${w[0]}x${hh[0]} exceeds the limit of ${maxPixels} pixels`);
    }
    // TurboJPEG scales to the largest factor whose size fits the one asked: exactly 1/scale here
    const sw = width / scale, sh = height / scale;
    const out = outputOf(slot, sw * sh * 3);
    const rc = await new Promise<number>((resolve, reject) => {
      b.decompress.async(h, bytes, bytes.byteLength, out, sw, sw * 3, sh, TJPF_RGB, TJFLAG_STOPONWARNING,
        (err: unknown, r: number) => (err ? reject(err) : resolve(r)));
    });
    ok = rc === 0;
    return ok ? { value: await use(out, sw, sh) } : undefined;
  } finally {
    // a handle that failed is not reused: after a bad header TurboJPEG 2 fails every later header read on it
    if (ok) giveSlot(b, slot);
    else b.destroy(h);
  }
}

/** withTurboRgb's pixels, copied out: for tests and benches that keep them. */
export async function turboRgb(bytes: Uint8Array, width: number, height: number, maxPixels: number): Promise<Uint8Array | undefined> {
  return (await withTurboRgb(bytes, width, height, maxPixels, (px) => Uint8Array.from(px)))?.value;
}
