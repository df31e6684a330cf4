// A JPEG's header segments read in JavaScript: the frame (which coding, precision, size, components) and
// the EXIF orientation libvips would apply. jpeg-turbo.ts decodes a file only when this walk is sure the
// picture is one libjpeg-turbo gives exactly as sharp does: 8-bit Huffman-coded (baseline, extended or
// progressive), 1 or 3 components, displayed as stored. Anything else, or any doubt, is sharp's.

/** What the walk found before the first scan. */
export interface JpegFrame {
  /** the start-of-frame marker's second byte: 0xc0 baseline, 0xc1 extended, 0xc2 progressive, ... */
  sof: number;
  precision: number;
  width: number;
  height: number;
  components: number;
  /**
   * The EXIF orientation libvips reads (1-8; 1 when there is no EXIF block or no Orientation tag in it);
   * undefined when the EXIF could not be read with certainty (then sharp decodes).
   */
  orientation: number | undefined;
}

/** Markers without a length (TEM, RSTn) and SOI itself. */
const STANDALONE = (m: number) => m === 0x01 || (m >= 0xd0 && m <= 0xd8);
/** SOFn: 0xc0-0xcf except DHT (c4), JPG (c8) and DAC (cc). */
const IS_SOF = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
const SOS = 0xda;
const APP1 = 0xe1;

/** The header of a JPEG up to its first scan; undefined for anything that is not a well-formed one. */
export function jpegFrame(b: Uint8Array): JpegFrame | undefined {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let frame: Omit<JpegFrame, 'orientation'> | undefined;
  const exif: Array<[number, number]> = [];
  let i = 2;
  for (;;) {
    if (i + 1 >= b.length || b[i] !== 0xff) return undefined;
    while (b[i + 1] === 0xff && i + 2 < b.length) i++; // fill bytes
    const m = b[i + 1];
    if (STANDALONE(m)) {
      if (m === 0xd8) return undefined; // a second SOI
      i += 2;
      continue;
    }
    if (i + 3 >= b.length) return undefined;
    const len = (b[i + 2] << 8) | b[i + 3], at = i + 4, end = i + 2 + len;
    if (len < 2 || end > b.length) return undefined;
    if (IS_SOF(m)) {
      if (frame || len < 8) return undefined;
      frame = { sof: m, precision: b[at], height: (b[at + 1] << 8) | b[at + 2], width: (b[at + 3] << 8) | b[at + 4], components: b[at + 5] };
    } else if (m === APP1 && startsWith(b, at, end, EXIF_PREFIX)) {
      exif.push([at, end]);
    } else if (m === SOS) {
      return frame && { ...frame, orientation: orientationOf(b, exif) };
    }
    i = end;
  }
}

// libvips takes the first APP1 segment that starts "Exif" as the EXIF block, image-size (preprocess.ts'
// headerSize) the last one's orientation: a file with more than one is left to sharp.
const EXIF_PREFIX = [0x45, 0x78, 0x69, 0x66];
const EXIF_HEADER = [0x45, 0x78, 0x69, 0x66, 0, 0];

function startsWith(b: Uint8Array, at: number, end: number, what: readonly number[]): boolean {
  return end - at >= what.length && what.every((v, k) => b[at + k] === v);
}

function orientationOf(b: Uint8Array, exif: Array<[number, number]>): number | undefined {
  if (exif.length === 0) return 1;
  if (exif.length > 1) return undefined;
  const [at, end] = exif[0];
  if (!startsWith(b, at, end, EXIF_HEADER)) return undefined;
  return tiffOrientation(new DataView(b.buffer, b.byteOffset + at + 6, end - at - 6));
}

const ORIENTATION = 0x0112;
/** IFD entries that point at another IFD: EXIF, GPS, interoperability. */
const SUB_IFDS = new Set([0x8769, 0x8825, 0xa005]);
const SHORT = 3, LONG = 4;

/**
 * The Orientation tag of a TIFF structure (the EXIF block after its 6-byte header). libexif answers from
 * IFD0 first, then the others: IFD0's value when it has one; when it has none, 1 only if no other IFD
 * (IFD1, EXIF, GPS, interoperability) holds one either. Undefined on anything malformed or unexpected.
 */
export function tiffOrientation(v: DataView): number | undefined {
  if (v.byteLength < 8) return undefined;
  const order = v.getUint16(0);
  if (order !== 0x4949 && order !== 0x4d4d) return undefined;
  const le = order === 0x4949;
  if (v.getUint16(2, le) !== 42) return undefined;
  const ifd0 = readIfd(v, v.getUint32(4, le), le);
  if (!ifd0) return undefined;
  if (ifd0.orientation !== undefined) return valid(ifd0.orientation);
  const seen = new Set<number>();
  const pending = [...ifd0.links];
  while (pending.length) {
    const off = pending.pop()!;
    if (off === 0) continue;
    if (seen.has(off) || seen.size > 8) return undefined;
    seen.add(off);
    const ifd = readIfd(v, off, le);
    if (!ifd || ifd.orientation !== undefined) return undefined;
    pending.push(...ifd.links);
  }
  return 1;
}

// libvips clips the value into 1-8; a value outside is not worth reproducing
const valid = (o: number) => (o >= 1 && o <= 8 ? o : undefined);

interface Ifd { orientation?: number; links: number[] }

/** One IFD: its Orientation entry (SHORT, one value) and the offsets of the IFDs it leads to. */
function readIfd(v: DataView, off: number, le: boolean): Ifd | undefined {
  if (off < 8 || off + 2 > v.byteLength) return undefined;
  const n = v.getUint16(off, le);
  const next = off + 2 + n * 12;
  if (n === 0 || next + 4 > v.byteLength) return undefined;
  const ifd: Ifd = { links: [v.getUint32(next, le)] };
  for (let e = off + 2; e < next; e += 12) {
    const tag = v.getUint16(e, le), type = v.getUint16(e + 2, le), count = v.getUint32(e + 4, le);
    if (tag === ORIENTATION) {
      if (type !== SHORT || count !== 1 || ifd.orientation !== undefined) return undefined;
      ifd.orientation = v.getUint16(e + 8, le);
    } else if (SUB_IFDS.has(tag)) {
      if ((type !== LONG && type !== 13) || count !== 1) return undefined;
      ifd.links.push(v.getUint32(e + 8, le));
    }
  }
  return ifd;
}
