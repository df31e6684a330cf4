// JPEG decoding by libjpeg-turbo's own TurboJPEG library (libturbojpeg.so.0, Debian's libturbojpeg0), called
// through koffi. sharp decodes the same files with the same pixels (its libvips links mozjpeg, libjpeg-turbo's
// fork) but at ~2.4x the CPU: libvips hands the picture in strips between its threads and allocates per strip
// (bench/README.md, "JPEG decode at libjpeg-turbo's speed"). Only the full-size decode comes here; a file
// this module is not sure about (jpeg-markers.ts), and every file when the library or koffi cannot load or
// PINHOLE_JPEG=sharp, goes to sharp exactly as before.
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

// A TurboJPEG handle is one libjpeg decompressor, not safe for two decodes at once: each decode takes one,
// and up to MAX_IDLE wait for the next (as many as libuv's pool runs decodes at once, by default).
const MAX_IDLE = 4;
const idle: unknown[] = [];

function takeHandle(b: Binding): unknown {
  const h = idle.pop() ?? b.init();
  if (!h) throw new Error(`tjInitDecompress failed: ${b.errorStr(null)}`);
  return h;
}

function giveHandle(b: Binding, h: unknown): void {
  if (idle.length < MAX_IDLE) idle.push(h);
  else b.destroy(h);
}

/** Frees the idle handles (at shutdown); a later decode makes new ones. */
export function releaseJpegHandles(): void {
  const b = binding;
  const handles = idle.splice(0);
  if (!b || handles.length === 0) return;
  void b.then((lib) => {
    if (typeof lib !== 'string') for (const h of handles) lib.destroy(h);
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
 * The picture's interleaved RGB (grey replicated, as libvips' sRGB conversion does), decoded on libuv's
 * pool by libjpeg-turbo; undefined when sharp is to decode it: no library, a file turboEligible refuses, a
 * header that disagrees with `width` x `height` (the size the caller checked) or gives a colour space other
 * than RGB, YCbCr or grey, and any file libjpeg-turbo cannot decode without a warning. sharp then decodes
 * it or words the error, as before: libjpeg-turbo's warnings stop more damaged files than libvips' do (a
 * flipped bit in a grey JPEG's scan), and the message of a failure on libuv's thread is not readable from
 * this one (TurboJPEG 2 keeps it thread-local). Throws PinholeError too_large over `maxPixels`, from the
 * library's header read, before allocating.
 */
export async function turboRgb(bytes: Uint8Array, width: number, height: number, maxPixels: number): Promise<Uint8Array | undefined> {
  if (!turboEligible(bytes)) return undefined;
  const b = await load();
  if (typeof b === 'string') return undefined;
  const h = takeHandle(b);
  let ok = false;
  try {
    const w = [0], hh = [0], sub = [0], cs = [0];
    if (b.header(h, bytes, bytes.byteLength, w, hh, sub, cs) !== 0) return undefined;
    ok = true;
    if (w[0] !== width || hh[0] !== height || !(cs[0] >= TJCS_RGB && cs[0] <= TJCS_GRAY)) return undefined;
    if (w[0] * hh[0] > maxPixels) {
      throw new PinholeError('too_large', `image too large: ${w[0]}x${hh[0]} exceeds the limit of ${maxPixels} pixels`);
    }
    const out = Buffer.allocUnsafe(width * height * 3);
    const rc = await new Promise<number>((resolve, reject) => {
      b.decompress.async(h, bytes, bytes.byteLength, out, width, width * 3, height, TJPF_RGB, TJFLAG_STOPONWARNING,
        (err: unknown, r: number) => (err ? reject(err) : resolve(r)));
    });
    ok = rc === 0;
    return ok ? out : undefined;
  } finally {
    // a handle that failed is not reused: after a bad header TurboJPEG 2 fails every later header read on it
    if (ok) giveHandle(b, h);
    else b.destroy(h);
  }
}
