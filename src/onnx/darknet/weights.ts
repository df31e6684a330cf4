// Darknet .weights reader. darknet's own loader never checks its reads (a truncated file still prints
// "Done!"), so this reader computes the exact size the cfg implies and refuses anything else, before
// reading the body. Parameter arrays are Float32Array views into one buffer: no per-value copying.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import { paramLayout, type DarknetNet, type ParamName } from './cfg.ts';
import { DarknetError, ioError } from './errors.ts';

export interface WeightsHeader {
  major: number;
  minor: number;
  revision: number;
  seen: bigint;
  /** 20 for v0.2+ (uint64 seen), 16 for v0.1 (int32 seen) */
  bytes: 16 | 20;
  /** major or minor > 1000: connected weights are stored [inputs][outputs] */
  transposed: boolean;
}

export type LayerParams = Partial<Record<ParamName, Float32Array>>;

export interface DarknetWeights {
  header: WeightsHeader;
  /** by darknet layer index; only layers that have parameters */
  layers: Map<number, LayerParams>;
  /** set by darknetToOnnx, which folds batch norm into these arrays in place */
  consumed?: boolean;
}

/** How many float32 values the cfg's layers read from a .weights file. */
export function weightFloats(net: DarknetNet): number {
  let n = 0;
  for (const l of net.layers) for (const p of paramLayout(l)) n += p.count;
  return n;
}

/** Parses the 12-byte prefix that decides the header's length (load_weights_upto). */
export function parseHeader(prefix: Uint8Array, seenBytes?: Uint8Array): WeightsHeader {
  const dv = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  const major = dv.getInt32(0, true);
  const minor = dv.getInt32(4, true);
  const revision = dv.getInt32(8, true);
  const long = major * 10 + minor >= 2 && major < 1000 && minor < 1000;
  const bytes = long ? 20 : 16;
  let seen = 0n;
  if (seenBytes && seenBytes.byteLength >= bytes - 12) {
    const sv = new DataView(seenBytes.buffer, seenBytes.byteOffset, seenBytes.byteLength);
    seen = long ? sv.getBigUint64(0, true) : BigInt(sv.getInt32(0, true));
  }
  return { major, minor, revision, seen, bytes, transposed: major > 1000 || minor > 1000 };
}

function sizeMismatch(file: string, net: DarknetNet, header: WeightsHeader | null, found: number): DarknetError {
  const floats = weightFloats(net);
  const hb = header?.bytes ?? 20;
  const expected = hb + 4 * floats;
  const version = header ? `v${header.major}.${header.minor} ` : '';
  const diff = found - expected;
  const how = diff < 0 ? `${-diff} bytes too short` : `${diff} bytes too long`;
  return new DarknetError(
    `${file}: expected ${expected} bytes (${hb}-byte ${version}header + ${floats} float32 values for ${net.file}), ` +
    `found ${found} (${how})`,
  );
}

/** Splits a complete .weights image into per-layer parameter views. `bytes` must have the exact size. */
export function parseWeights(bytes: Uint8Array, net: DarknetNet, file = 'weights'): DarknetWeights {
  if (endianness() !== 'LE') throw new DarknetError('darknet .weights are little-endian; this machine is not');
  if (bytes.byteLength < 12) throw sizeMismatch(file, net, null, bytes.byteLength);
  const header = parseHeader(bytes.subarray(0, 12), bytes.subarray(12, 20));
  const expected = header.bytes + 4 * weightFloats(net);
  if (bytes.byteLength !== expected) throw sizeMismatch(file, net, header, bytes.byteLength);
  // Float32Array views need 4-byte alignment; a pooled Buffer may not give it.
  let buf = bytes;
  if (buf.byteOffset % 4 !== 0) buf = new Uint8Array(bytes);
  const layers = new Map<number, LayerParams>();
  let off = buf.byteOffset + header.bytes;
  for (const l of net.layers) {
    const layout = paramLayout(l);
    if (layout.length === 0) continue;
    const p: LayerParams = {};
    for (const { name, count } of layout) {
      p[name] = new Float32Array(buf.buffer, off, count);
      off += 4 * count;
    }
    layers.set(l.index, p);
  }
  return { header, layers };
}

/** Reads a .weights file, checking its size against the cfg before reading the body. */
export function readWeights(path: string, net: DarknetNet): DarknetWeights {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw ioError('read weights', path, e);
  }
  try {
    const size = fstatSync(fd).size;
    const head = new Uint8Array(20);
    const got = readSync(fd, head, 0, Math.min(20, size), 0);
    if (got < 12) throw sizeMismatch(path, net, null, size);
    const header = parseHeader(head.subarray(0, 12));
    const expected = header.bytes + 4 * weightFloats(net);
    if (size !== expected) throw sizeMismatch(path, net, header, size);
    // allocUnsafeSlow: an unpooled buffer at byteOffset 0, so the float views below are aligned.
    const buf = Buffer.allocUnsafeSlow(size);
    let pos = 0;
    while (pos < size) {
      const n = readSync(fd, buf, pos, Math.min(size - pos, 1 << 30), pos);
      if (n <= 0) throw new DarknetError(`${path}: file shrank while reading (${pos} of ${size} bytes)`);
      pos += n;
    }
    return parseWeights(new Uint8Array(buf.buffer, buf.byteOffset, size), net, path);
  } finally {
    closeSync(fd);
  }
}
