// Training checkpoints: model weights (trainable and BatchNorm statistics), optimizer state, position
// in the schedule (epoch, step, images seen) and everything the trainer needs to rebuild the same model
// (options, anchors, names, tree). The generators' state is implied by (seed, epoch, step): every random
// draw of training is derived from those, so restoring them restores the random streams too.
// Layout: DIR/ckpt-<step>/{meta.json, weights.bin, optimizer.bin}, DIR/latest naming the newest one;
// a checkpoint directory is written under a temporary name and renamed into place whole.
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tf } from '../backend.ts';

export interface TensorEntry {
  name: string;
  shape: number[];
}

export interface CheckpointMeta {
  format: 'pinhole-checkpoint-1';
  trainer: string;
  /** optimizer steps done */
  step: number;
  epoch: number;
  /** steps done inside `epoch` */
  stepInEpoch: number;
  /** images trained on */
  seen: number;
  seed: number;
  /** the trainer's command-line options, as given */
  options: Record<string, unknown>;
  /** trainer state needed to rebuild the model (anchors, names, tree, ...) */
  state: Record<string, unknown>;
  weights: TensorEntry[];
  optimizer: TensorEntry[];
  /** running figures, for the log */
  loss?: number;
  savedAt: string;
}

export interface Checkpoint {
  meta: CheckpointMeta;
  weights: Float32Array[];
  optimizer: { name: string; tensor: tf.Tensor }[];
}

function pack(arrays: Float32Array[]): Uint8Array {
  const n = arrays.reduce((s, a) => s + a.length, 0);
  const all = new Float32Array(n);
  let o = 0;
  for (const a of arrays) {
    all.set(a, o);
    o += a.length;
  }
  return new Uint8Array(all.buffer);
}

function unpack(buf: Buffer, entries: TensorEntry[], what: string): Float32Array[] {
  const need = entries.reduce((s, e) => s + e.shape.reduce((a, b) => a * b, 1), 0) * 4;
  if (buf.byteLength !== need) throw new Error(`checkpoint ${what}: ${buf.byteLength} bytes, expected ${need}`);
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const out: Float32Array[] = [];
  let o = 0;
  for (const e of entries) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    out.push(all.subarray(o, o + n));
    o += n;
  }
  return out;
}

export async function saveCheckpoint(dir: string, meta: Omit<CheckpointMeta, 'format' | 'weights' | 'optimizer' | 'savedAt'>,
  model: tf.LayersModel, optimizer: tf.Optimizer, keep = 2): Promise<string> {
  const weights = model.weights.map((w) => ({ name: w.originalName, shape: w.shape as number[], data: w.read().dataSync() as Float32Array }));
  const opt = await optimizer.getWeights();
  const optData = opt.map((o) => ({ name: o.name, shape: o.tensor.shape as number[], data: Float32Array.from(o.tensor.dataSync() as Float32Array) }));
  const full: CheckpointMeta = {
    ...meta,
    format: 'pinhole-checkpoint-1',
    weights: weights.map(({ name, shape }) => ({ name, shape })),
    optimizer: optData.map(({ name, shape }) => ({ name, shape })),
    savedAt: new Date().toISOString(),
  };
  await mkdir(dir, { recursive: true });
  const name = `ckpt-${String(meta.step).padStart(8, '0')}`;
  const final = path.join(dir, name);
  const tmp = path.join(dir, `.${name}.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  await writeFile(path.join(tmp, 'weights.bin'), pack(weights.map((w) => w.data)));
  await writeFile(path.join(tmp, 'optimizer.bin'), pack(optData.map((o) => o.data)));
  await writeFile(path.join(tmp, 'meta.json'), JSON.stringify(full, null, 1));
  await rm(final, { recursive: true, force: true });
  await rename(tmp, final);
  await writeFile(path.join(dir, '.latest.tmp'), name + '\n');
  await rename(path.join(dir, '.latest.tmp'), path.join(dir, 'latest'));
  const old = (await readdir(dir)).filter((d) => /^ckpt-\d+$/.test(d)).sort();
  for (const d of old.slice(0, Math.max(0, old.length - keep))) await rm(path.join(dir, d), { recursive: true, force: true });
  return final;
}

/** The newest checkpoint in DIR (or DIR itself when it is a ckpt-* folder); undefined when there is none. */
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

export async function loadCheckpoint(ckptDir: string): Promise<Checkpoint> {
  const meta = JSON.parse(await readFile(path.join(ckptDir, 'meta.json'), 'utf8')) as CheckpointMeta;
  if (meta.format !== 'pinhole-checkpoint-1') throw new Error(`${ckptDir} is not a pinhole checkpoint (format ${String(meta.format)})`);
  const weights = unpack(await readFile(path.join(ckptDir, 'weights.bin')), meta.weights, 'weights');
  const optArrays = unpack(await readFile(path.join(ckptDir, 'optimizer.bin')), meta.optimizer, 'optimizer state');
  const optimizer = meta.optimizer.map((e, i) => ({ name: e.name, tensor: tf.tensor(optArrays[i], e.shape) }));
  return { meta, weights, optimizer };
}

/** Puts checkpointed weights into a freshly built model of the same architecture. */
export function restoreWeights(model: tf.LayersModel, meta: CheckpointMeta, weights: Float32Array[]): void {
  if (model.weights.length !== meta.weights.length) {
    throw new Error(`checkpoint has ${meta.weights.length} weight tensors but the model has ${model.weights.length}: not the same architecture`);
  }
  const vals = model.weights.map((w, i) => {
    const e = meta.weights[i];
    if (e.shape.join() !== (w.shape as number[]).join() || e.name !== w.originalName) {
      throw new Error(`checkpoint weight ${i} is ${e.name} [${e.shape}], model has ${w.originalName} [${w.shape}]`);
    }
    return tf.tensor(weights[i], e.shape);
  });
  model.setWeights(vals);
  tf.dispose(vals);
}
