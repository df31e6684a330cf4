// The file side of training checkpoints, shared by the detector/backbone checkpoints
// (engine/checkpoint.ts) and the GAN ones (gan/checkpoint.ts), which differ only in their meta and in
// how they name and group tensors. A checkpoint is a folder DIR/ckpt-... holding meta.json and packed
// float32 tensor files (meta.json describes their names and shapes, in file order); DIR/latest names the
// newest. A folder is written under a temporary name and renamed into place whole, and `latest` is
// replaced by a rename too, so a run killed mid-save leaves the previous checkpoint loadable.
// The byte layouts here are those of the checkpoints already on disk (training/): change them only
// together with a reader for the old ones.
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tf } from './backend.ts';

/** What every trainer's checkpoint meta holds, whatever its format. */
export interface CheckpointMetaBase {
  trainer: string;
  /** optimizer steps done (the GAN trainers count them per phase) */
  step: number;
  seed: number;
  /** the trainer's command-line options, as given */
  options: Record<string, unknown>;
  /** trainer state needed to rebuild the model and carry on (anchors, names, tree, vocabulary, histories, ...) */
  state: Record<string, unknown>;
  savedAt: string;
}

export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

const elements = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** A model's weights (trainable and not, e.g. BatchNorm statistics) in model.weights order, copied out. */
export function modelArrays(model: tf.LayersModel): NamedArray[] {
  return model.weights.map((w) => ({ name: w.originalName, shape: w.shape as number[], data: Float32Array.from(w.read().dataSync() as Float32Array) }));
}

/**
 * An optimizer's state (iteration count, moments), copied out as float32: the int32 iteration count
 * too, as the files have always held it (setWeights reads it back as a number either way).
 */
export async function optimizerArrays(optimizer: tf.Optimizer): Promise<NamedArray[]> {
  return (await optimizer.getWeights()).map((o) => ({ name: o.name, shape: o.tensor.shape as number[], data: Float32Array.from(o.tensor.dataSync() as Float32Array) }));
}

/** Arrays end to end as float32 bytes (platform order, little-endian everywhere we run). */
export function packFloat32(arrays: Float32Array[]): Uint8Array {
  const all = new Float32Array(arrays.reduce((s, a) => s + a.length, 0));
  let o = 0;
  for (const a of arrays) {
    all.set(a, o);
    o += a.length;
  }
  return new Uint8Array(all.buffer);
}

/** Splits packed float32 bytes into arrays of the given shapes: views into one aligned copy of the bytes. */
export function unpackFloat32(buf: Uint8Array, shapes: number[][], what: string): Float32Array[] {
  const need = shapes.reduce((s, shape) => s + elements(shape), 0) * 4;
  if (buf.byteLength !== need) throw new Error(`${what}: ${buf.byteLength} bytes, meta.json describes ${need}`);
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const out: Float32Array[] = [];
  let o = 0;
  for (const shape of shapes) {
    const n = elements(shape);
    out.push(all.subarray(o, o + n));
    o += n;
  }
  return out;
}

/** Reads one packed tensor file of a checkpoint folder. */
export async function readTensorFile(ckptDir: string, file: string, shapes: number[][]): Promise<Float32Array[]> {
  const p = path.join(ckptDir, file);
  return unpackFloat32(await readFile(p), shapes, p);
}

/** Reads meta.json of a checkpoint folder, refusing any other format than `format`. */
export async function readCheckpointMeta<M extends { format: string }>(ckptDir: string, format: M['format']): Promise<M> {
  const meta = JSON.parse(await readFile(path.join(ckptDir, 'meta.json'), 'utf8')) as M;
  if (meta.format !== format) throw new Error(`${ckptDir} is not a ${format} checkpoint (its format is ${String(meta.format)})`);
  return meta;
}

/**
 * Writes the checkpoint folder DIR/NAME with `files` (written in the given order; put meta.json last),
 * points DIR/latest at it and removes all but the newest `keep` checkpoints. `rank` orders the
 * checkpoint folders of DIR (undefined: not one of ours, left alone); the one just written always stays,
 * even if it ranks below others (a run resumed from an older checkpoint). Returns the folder's path.
 */
export async function writeCheckpoint(dir: string, name: string, files: Record<string, Uint8Array | string>, keep: number,
  rank: (folder: string) => number | undefined): Promise<string> {
  await mkdir(dir, { recursive: true });
  const final = path.join(dir, name);
  const tmp = path.join(dir, `.${name}.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  for (const [file, data] of Object.entries(files)) await writeFile(path.join(tmp, file), data);
  await rm(final, { recursive: true, force: true });
  await rename(tmp, final);
  await writeFile(path.join(dir, '.latest.tmp'), name + '\n');
  await rename(path.join(dir, '.latest.tmp'), path.join(dir, 'latest'));
  const ranked = (await readdir(dir))
    .map((folder) => ({ folder, r: rank(folder) }))
    .filter((x): x is { folder: string; r: number } => x.r !== undefined)
    .sort((a, b) => a.r - b.r);
  for (const { folder } of ranked.slice(0, Math.max(0, ranked.length - keep))) {
    if (folder !== name) await rm(path.join(dir, folder), { recursive: true, force: true });
  }
  return final;
}

/** The newest checkpoint in DIR (or DIR itself when it is a checkpoint folder); undefined when there is none. */
export async function findCheckpoint(dir: string): Promise<string | undefined> {
  try {
    await readFile(path.join(dir, 'meta.json'));
    return dir;
  } catch {
    // not a checkpoint folder itself
  }
  try {
    const name = (await readFile(path.join(dir, 'latest'), 'utf8')).trim();
    return path.join(dir, name);
  } catch {
    return undefined;
  }
}

/** Sets a model's weights from checked arrays (same count and shapes as model.weights, in its order). */
export function assignWeights(model: tf.LayersModel, arrays: Array<{ shape: number[]; data: Float32Array }>): void {
  const values = arrays.map((a) => tf.tensor(a.data, a.shape));
  model.setWeights(values);
  tf.dispose(values);
}
