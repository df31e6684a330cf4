// The live darknet oracle (/work/shared/darknet-oracle) from tests: copies its scripts once to a cache
// directory (they write beside themselves and the shared copy is read-only), generates seeded random
// weights with gen_weights.py, runs dk_oracle.py with --dump-dir and returns its JSON plus the dumped
// float32 tensors. Weights and dumps are cached under os.tmpdir() keyed by everything that determines
// them (scripts, cfg content, seed/header/gain, image, options), so a second run costs a file read.
//
//   const r = await runOracle({ cfg: darknetCfg('yolov2-tiny-voc'), seed: 1, image: darknetImage('dog.jpg') });
//   r.pre    // Float32Array: raw input of the final region/detection layer (darknet memory order)
//   r.input  // Float32Array: the exact network input darknet used, CHW RGB 0..1
//   r.json.boxes  // darknet's detections after do_nms_sort
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gaussian } from './random.ts';

const run = promisify(execFile);

export const ORACLE_DIR = process.env.PINHOLE_DARKNET_ORACLE ?? '/work/shared/darknet-oracle';
export const DARKNET_CFG_DIR = '/usr/share/darknet/cfg';
export const DARKNET_DATA_DIR = '/usr/share/darknet/data';
export const PYTHON = process.env.PINHOLE_PYTHON ?? '/usr/bin/python3';

export const darknetCfg = (name: string): string => join(DARKNET_CFG_DIR, name.endsWith('.cfg') ? name : `${name}.cfg`);
export const darknetData = (name: string): string => join(DARKNET_DATA_DIR, name);

/** True when the oracle scripts, python3 and Debian's darknet data are present. */
export function darknetAvailable(): boolean {
  return existsSync(join(ORACLE_DIR, 'dk_oracle.py')) && existsSync(PYTHON) && existsSync(DARKNET_CFG_DIR);
}

export interface TensorSummary {
  n: number;
  sum: number;
  abs_sum: number;
  min: number;
  max: number;
  sha256: string;
  first: number[];
  shape?: number[];
}

export interface OracleBox {
  order: number;
  class: number;
  prob: number;
  objectness: number;
  /** centre and size, normalised to the original image */
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface OracleJson {
  cfg: string;
  weights: string;
  image: string;
  thresh: number;
  hier_thresh: number;
  nms: number;
  net: { w: number; h: number; c: number; layers: number };
  last_layer: {
    type: 'REGION' | 'DETECTION';
    w: number; h: number; n: number; classes: number; coords: number; side: number;
    softmax: number; sqrt: number; background: number; tree: boolean; anchors: number[] | null;
  };
  input: TensorSummary & { mode: string; image_w: number; image_h: number };
  pre: TensorSummary;
  post: TensorSummary;
  tree_softmax: null | { mode: string; native_cpu_nan_count: number; groups?: number };
  post_after_boxes_changed: boolean;
  num_dets: number;
  boxes: OracleBox[];
  candidates?: Array<{ i: number; x: number; y: number; w: number; h: number; objectness: number; probs: Record<string, number> }>;
  seconds: { load: number; predict: number; nms: number };
}

export interface WeightsOptions {
  /** gen_weights.py --seed (default 1) */
  seed?: number;
  /** gen_weights.py --header (default '0.2') */
  header?: '0.2' | '0.1';
  gain?: number;
  lastGain?: number;
}

export interface OracleOptions extends WeightsOptions {
  cfg: string;
  /** an existing .weights file; when absent, gen_weights.py makes one from seed/header/gain */
  weights?: string;
  /** image file darknet loads (default dog.jpg); ignored when inputF32 is given */
  image?: string;
  /** exact network input, CHW RGB floats (net.c*net.h*net.w values): a file path or the values */
  inputF32?: string | Float32Array;
  thresh?: number;
  hier?: number;
  nms?: number;
  resize?: 'auto' | 'letterbox' | 'plain';
  allDets?: boolean;
  treeSoftmax?: 'gpu' | 'cpu';
}

export interface OracleResult {
  json: OracleJson;
  input: Float32Array;
  pre: Float32Array;
  post: Float32Array;
  /** cached dump directory (input.f32, pre.f32, post.f32, out.json) */
  dumpDir: string;
  weights: string;
  cfg: string;
}

const sha = (...parts: Array<string | Uint8Array>): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 24);
};

let scriptsDir: string | undefined;

/** The cache root for this version of the oracle scripts (copied there once). */
export function oracleHome(): string {
  if (scriptsDir) return scriptsDir;
  if (!darknetAvailable()) {
    throw new Error(`darknet oracle not available (need ${ORACLE_DIR}/dk_oracle.py, ${PYTHON}, ${DARKNET_CFG_DIR}; apt-get install darknet python3-numpy python3-opencv)`);
  }
  const files = readdirSync(ORACLE_DIR).filter((f) => f.endsWith('.py')).sort();
  const key = sha(...files.flatMap((f) => [f, readFileSync(join(ORACLE_DIR, f))]));
  const root = join(tmpdir(), `pinhole-darknet-oracle-${userInfo().uid}`, key);
  const dir = join(root, 'scripts');
  if (!existsSync(join(dir, '.complete'))) {
    mkdirSync(root, { recursive: true });
    const tmp = mkdtempSync(join(root, '.scripts-'));
    for (const f of files) copyFileSync(join(ORACLE_DIR, f), join(tmp, f));
    writeFileSync(join(tmp, '.complete'), '');
    try {
      renameSync(tmp, dir);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another worker got there first
    }
  }
  scriptsDir = dir;
  return dir;
}

const cacheDir = (sub: string): string => {
  const d = join(oracleHome(), '..', sub);
  mkdirSync(d, { recursive: true });
  return d;
};

async function python(args: string[], what: string): Promise<string> {
  try {
    const { stdout } = await run(PYTHON, args, { cwd: oracleHome(), maxBuffer: 1 << 28, encoding: 'utf8' });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    const tail = (err.stderr ?? '').trim().split('\n').slice(-5).join(' | ');
    throw new Error(`${what} failed: ${err.message.split('\n')[0]} ${tail}`);
  }
}

const inflight = new Map<string, Promise<unknown>>();
function once<T>(key: string, f: () => Promise<T>): Promise<T> {
  let p = inflight.get(key) as Promise<T> | undefined;
  if (!p) {
    p = f().finally(() => inflight.delete(key));
    inflight.set(key, p);
  }
  return p;
}

/** Path of a cached gen_weights.py file for `cfg` (generated on first use). */
export function oracleWeights(cfg: string, o: WeightsOptions = {}): Promise<string> {
  const seed = o.seed ?? 1, header = o.header ?? '0.2';
  const key = sha('weights', readFileSync(cfg), String(seed), header, String(o.gain ?? ''), String(o.lastGain ?? ''));
  const path = join(cacheDir('weights'), `${key}.weights`);
  return once(path, async () => {
    if (existsSync(path)) return path;
    const tmp = `${path}.${process.pid}.tmp`;
    const args = ['gen_weights.py', cfg, tmp, '--seed', String(seed), '--header', header];
    if (o.gain !== undefined) args.push('--gain', String(o.gain));
    if (o.lastGain !== undefined) args.push('--last-gain', String(o.lastGain));
    await python(args, `gen_weights.py ${cfg}`);
    renameSync(tmp, path);
    return path;
  });
}

/** The oracle's own pure-python expectation of a cfg's .weights size (dkcfg.weights_size_bytes). */
export async function dkcfgWeightsBytes(cfg: string, headerBytes: 16 | 20 = 20): Promise<number> {
  const code = 'import sys, dkcfg; print(dkcfg.weights_size_bytes(sys.argv[1], int(sys.argv[2])))';
  return Number((await python(['-c', code, cfg, String(headerBytes)], `dkcfg ${cfg}`)).trim());
}

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function fileKey(path: string): string {
  const st = statSync(path);
  return `${path}:${st.size}:${st.mtimeMs}`;
}

/** Runs dk_oracle.py (or returns the cached run) and loads its dumps. */
export async function runOracle(o: OracleOptions): Promise<OracleResult> {
  const weights = o.weights ?? (await oracleWeights(o.cfg, o));
  let inputPath: string | undefined;
  if (o.inputF32 instanceof Float32Array) {
    const bytes = new Uint8Array(o.inputF32.buffer, o.inputF32.byteOffset, o.inputF32.byteLength);
    inputPath = join(cacheDir('inputs'), `${sha('input', bytes)}.f32`);
    if (!existsSync(inputPath)) {
      writeFileSync(`${inputPath}.${process.pid}.tmp`, bytes);
      renameSync(`${inputPath}.${process.pid}.tmp`, inputPath);
    }
  } else {
    inputPath = o.inputF32;
  }
  const image = o.image ?? darknetData('dog.jpg');
  const thresh = o.thresh ?? 0.2;
  const args = [o.cfg, weights, image, String(thresh)];
  if (o.hier !== undefined) args.push('--hier', String(o.hier));
  if (o.nms !== undefined) args.push('--nms', String(o.nms));
  if (o.resize) args.push('--resize', o.resize);
  if (inputPath) args.push('--input-f32', inputPath);
  if (o.allDets) args.push('--all-dets');
  if (o.treeSoftmax) args.push('--tree-softmax', o.treeSoftmax);
  const key = sha('run', o.cfg, readFileSync(o.cfg), fileKey(weights), inputPath ? fileKey(inputPath) : fileKey(image), ...args.slice(3));
  const dir = join(cacheDir('dumps'), key);
  await once(dir, async () => {
    if (existsSync(join(dir, 'out.json'))) return;
    const tmp = mkdtempSync(join(cacheDir('dumps'), '.run-'));
    try {
      const stdout = await python(['dk_oracle.py', ...args, '--dump-dir', tmp], `dk_oracle.py ${o.cfg}`);
      JSON.parse(stdout); // refuse to cache anything that is not a complete answer
      writeFileSync(join(tmp, 'out.json'), stdout);
      try {
        renameSync(tmp, dir);
      } catch {
        if (!existsSync(join(dir, 'out.json'))) throw new Error(`cannot store oracle dump in ${dir}`);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
  return {
    json: JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as OracleJson,
    input: readF32(join(dir, 'input.f32')),
    pre: readF32(join(dir, 'pre.f32')),
    post: readF32(join(dir, 'post.f32')),
    dumpDir: dir,
    weights,
    cfg: o.cfg,
  };
}

/** max |a - b| and max |b|, for tolerance checks of the form maxDiff <= tol * maxAbs. */
export function compareTensors(actual: ArrayLike<number>, expected: ArrayLike<number>): { maxDiff: number; maxAbs: number; at: number } {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != expected ${expected.length}`);
  let maxDiff = 0, maxAbs = 0, at = -1;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const raw = Math.abs(actual[i] - e);
    const d = Number.isNaN(raw) ? Infinity : raw; // a NaN on either side is the worst difference
    if (d > maxDiff || at < 0) {
      maxDiff = d;
      at = i;
    }
    const a = Math.abs(e);
    if (a > maxAbs) maxAbs = a;
  }
  return { maxDiff, maxAbs, at };
}

export interface WriteWeightsOptions {
  seed?: number;
  /** header [major, minor, revision]; v0.2+ gets a uint64 `seen`, others an int32 (darknet's rule) */
  version?: [number, number, number];
}

/**
 * Writes a random .weights file for any cfg Pinhole's parser accepts, in darknet's layout (FORMAT.md),
 * for layer types gen_weights.py does not lay out (softmax, avgpool, reverse reorg...). darknet itself
 * reads these files in the oracle, so a layout mistake shows up as an output mismatch.
 * `layout` lists every layer's records in file order (name, float count, fan-in for the weight scale).
 */
export function writeRandomWeights(
  path: string,
  layout: Array<Array<{ name: string; count: number; fanIn: number }>>,
  o: WriteWeightsOptions = {},
): number {
  const [major, minor, revision] = o.version ?? [0, 2, 0];
  const long = major * 10 + minor >= 2 && major < 1000 && minor < 1000;
  const total = layout.flat().reduce((a, p) => a + p.count, 0);
  const hb = long ? 20 : 16;
  const buf = Buffer.alloc(hb + 4 * total);
  buf.writeInt32LE(major, 0);
  buf.writeInt32LE(minor, 4);
  buf.writeInt32LE(revision, 8);
  const f = new Float32Array(buf.buffer, buf.byteOffset + hb, total);
  const g = gaussian(o.seed ?? 1);
  let k = 0;
  for (const layer of layout) {
    for (const { name, count, fanIn } of layer) {
      for (let i = 0; i < count; i++) {
        switch (name) {
          case 'biases': f[k++] = 0.1 * g(); break;
          case 'scales': f[k++] = 1 + 0.2 * Math.tanh(g()); break;
          case 'rolling_mean': f[k++] = 0.05 * g(); break;
          case 'rolling_variance': f[k++] = 1 + 0.2 * Math.tanh(g()); break;
          default: f[k++] = Math.sqrt(2 / fanIn) * g();
        }
      }
    }
  }
  writeFileSync(path, buf);
  return buf.byteLength;
}

/**
 * darknet's YOLO9000 per-class scoring (get_region_detections with a class map, as `detector valid`)
 * on the same weights and network input as an oracle run: test/helpers/dk_map.py. Boxes after
 * do_nms_sort, `class` = tree node.
 */
export async function runDarknetMap(r: OracleResult, nodes: readonly number[], thresh: number, nms: number): Promise<OracleBox[]> {
  const script = fileURLToPath(new URL('dk_map.py', import.meta.url));
  const out = await python([script, r.cfg, r.weights, join(r.dumpDir, 'input.f32'), String(thresh), String(nms), nodes.join(',')], `dk_map.py ${r.cfg}`);
  return (JSON.parse(out) as { boxes: OracleBox[] }).boxes;
}

/**
 * darknet's own network input for an image file (load_image_color, then letterbox_image or resize_image
 * to net x net inside libdarknet): test/helpers/dk_input.py. CHW RGB floats, and the image's size.
 */
export async function darknetInput(image: string, netW: number, netH: number, mode: 'letterbox' | 'resize'):
  Promise<{ input: Float32Array; width: number; height: number }> {
  const script = fileURLToPath(new URL('dk_input.py', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'pinhole-dk-input-'));
  try {
    const out = join(dir, 'input.f32');
    const size = JSON.parse(await python([script, image, String(netW), String(netH), mode, out], `dk_input.py ${image}`)) as { w: number; h: number };
    const b = readFileSync(out);
    return { input: new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4).slice(), width: size.w, height: size.h };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
