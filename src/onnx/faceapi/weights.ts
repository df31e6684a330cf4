// A TensorFlow.js weights manifest (face-api's *-weights_manifest.json) and its .bin shards -> named
// float32 tensors. The layout is tfjs's: groups of weights, each group's shards concatenated, weights
// back to back in manifest order; a quantized weight stores uint8/uint16 q with value = q * scale + min
// (tf.io.decodeWeights, evaluated in double and stored as float32) or float16.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FaceApiError } from './errors.ts';

export interface Quantization {
  dtype: 'uint8' | 'uint16' | 'float16';
  min?: number;
  scale?: number;
}

export interface WeightSpec {
  name: string;
  shape: number[];
  /** int32 tensors are not weights of this family, but other face-api nets (SSD) carry them */
  dtype: 'float32' | 'int32';
  quantization?: Quantization;
}

export interface WeightsGroup {
  paths: string[];
  weights: WeightSpec[];
}

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export interface LoadedWeights {
  manifest: string;
  files: string[];
  tensors: Map<string, Tensor>;
}

const BYTES = { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2 } as const;

/** face-api's model folder holds one manifest per network; the detector's is taken from a folder. */
export const DEFAULT_MANIFEST = 'tiny_face_detector_model-weights_manifest.json';

export function findManifest(path: string): string {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new FaceApiError(`${path}: no such file or folder`);
  }
  if (!st.isDirectory()) return path;
  if (existsSync(join(path, DEFAULT_MANIFEST))) return join(path, DEFAULT_MANIFEST);
  const found = readdirSync(path).filter((f) => f.endsWith('weights_manifest.json'));
  if (found.length === 1) return join(path, found[0]);
  throw new FaceApiError(found.length === 0
    ? `${path}: no *weights_manifest.json in this folder`
    : `${path}: ${found.length} weights manifests here (${found.join(', ')}); name the one to import`);
}

function fail(file: string, msg: string): never {
  throw new FaceApiError(`${basename(file)}: ${msg}`);
}

function parseGroups(file: string, text: string): WeightsGroup[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    fail(file, `not valid JSON (${(e as Error).message})`);
  }
  // a model.json (tfjs graph/layers model) nests the same list under weightsManifest
  const groups = Array.isArray(doc) ? doc : (doc as { weightsManifest?: unknown })?.weightsManifest;
  if (!Array.isArray(groups) || groups.length === 0) fail(file, 'not a tfjs weights manifest (expected a list of {paths, weights})');
  for (const [i, g] of groups.entries()) {
    if (!g || !Array.isArray(g.paths) || !g.paths.every((p: unknown) => typeof p === 'string' && p.length > 0) || !Array.isArray(g.weights)) {
      fail(file, `group ${i}: expected {"paths": [...], "weights": [...]}`);
    }
    for (const w of g.weights) checkSpec(file, w);
  }
  return groups as WeightsGroup[];
}

function checkSpec(file: string, w: WeightSpec): void {
  if (!w || typeof w.name !== 'string') fail(file, 'a weight without a name');
  if (!Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && d >= 0)) fail(file, `${w.name}: bad shape`);
  if (w.dtype !== 'float32' && w.dtype !== 'int32') fail(file, `${w.name}: dtype ${String(w.dtype)} is not float32 or int32`);
  const q = w.quantization;
  if (q === undefined) return;
  if (q.dtype !== 'uint8' && q.dtype !== 'uint16' && q.dtype !== 'float16') fail(file, `${w.name}: quantization dtype ${String(q.dtype)} is not uint8, uint16 or float16`);
  if (q.dtype !== 'float16' && !(Number.isFinite(q.min) && Number.isFinite(q.scale))) fail(file, `${w.name}: ${q.dtype} quantization needs numeric min and scale`);
}

function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function decode(w: WeightSpec, buf: Buffer, off: number, n: number): Float32Array {
  const out = new Float32Array(n);
  const q = w.quantization;
  if (!q && w.dtype === 'int32') {
    for (let i = 0; i < n; i++) out[i] = buf.readInt32LE(off + 4 * i);
  } else if (!q) {
    for (let i = 0; i < n; i++) out[i] = buf.readFloatLE(off + 4 * i);
  } else if (q.dtype === 'uint8') {
    for (let i = 0; i < n; i++) out[i] = buf[off + i] * q.scale! + q.min!;
  } else if (q.dtype === 'uint16') {
    for (let i = 0; i < n; i++) out[i] = buf.readUInt16LE(off + 2 * i) * q.scale! + q.min!;
  } else {
    for (let i = 0; i < n; i++) out[i] = half(buf.readUInt16LE(off + 2 * i));
  }
  return out;
}

/** Reads and dequantizes every weight; the shards must hold exactly the bytes the manifest describes. */
export function loadWeights(manifestPath: string): LoadedWeights {
  let text: string;
  try {
    text = readFileSync(manifestPath, 'utf8');
  } catch (e) {
    throw new FaceApiError(`cannot read ${manifestPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const groups = parseGroups(manifestPath, text);
  const tensors = new Map<string, Tensor>();
  const files: string[] = [];
  for (const g of groups) {
    const shards = g.paths.map((p) => {
      const f = join(dirname(manifestPath), p);
      files.push(basename(f));
      try {
        return readFileSync(f);
      } catch (e) {
        throw new FaceApiError(`cannot read weights shard ${p} (beside ${basename(manifestPath)}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    });
    const buf = Buffer.concat(shards);
    const need = g.weights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1) * BYTES[w.quantization?.dtype ?? w.dtype], 0);
    if (buf.length !== need) {
      fail(manifestPath, `${g.paths.join(' + ')} hold${g.paths.length === 1 ? 's' : ''} ${buf.length} bytes, but its weights need ${need}` +
        (buf.length < need ? ' (truncated?)' : ''));
    }
    let off = 0;
    for (const w of g.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      if (tensors.has(w.name)) fail(manifestPath, `weight ${w.name} appears twice`);
      tensors.set(w.name, { shape: w.shape, data: decode(w, buf, off, n) });
      off += n * BYTES[w.quantization?.dtype ?? w.dtype];
    }
  }
  return { manifest: manifestPath, files, tensors };
}
