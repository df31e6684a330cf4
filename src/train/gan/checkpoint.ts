// Checkpoints for the GAN trainers, which hold several models and optimizers at once (generators,
// critics, text encoder, each with its own optimizer). Layout: DIR/ckpt-<tag>/{meta.json, tensors.bin}
// and DIR/latest naming the newest; written under a temporary name and renamed whole, so a run killed
// mid-save leaves the previous checkpoint intact. Random streams are keyed by (seed, step), so
// restoring the step restores them.
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tf } from '../backend.ts';

interface Entry {
  key: string;
  shape: number[];
}

export interface GanCheckpointMeta {
  format: 'pinhole-gan-checkpoint-1';
  trainer: string;
  phase: string;
  step: number;
  seed: number;
  options: Record<string, unknown>;
  /** trainer state (vocabulary, histories, metrics so far, ...) */
  state: Record<string, unknown>;
  tensors: Entry[];
  savedAt: string;
}

export interface GanCheckpoint {
  meta: GanCheckpointMeta;
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  dir: string;
}

async function optimizerEntries(opt: tf.Optimizer): Promise<Array<{ name: string; tensor: tf.Tensor }>> {
  return opt.getWeights();
}

export async function saveGanCheckpoint(
  dir: string,
  meta: Omit<GanCheckpointMeta, 'format' | 'tensors' | 'savedAt'>,
  models: Record<string, tf.LayersModel>,
  optimizers: Record<string, tf.Optimizer>,
  keep = 2,
): Promise<string> {
  const entries: Entry[] = [];
  const chunks: Float32Array[] = [];
  for (const [k, m] of Object.entries(models)) {
    m.weights.forEach((w, i) => {
      entries.push({ key: `model/${k}/${i}`, shape: w.shape as number[] });
      chunks.push(Float32Array.from(w.read().dataSync() as Float32Array));
    });
  }
  for (const [k, o] of Object.entries(optimizers)) {
    const ws = await optimizerEntries(o);
    ws.forEach((w, i) => {
      entries.push({ key: `opt/${k}/${i}`, shape: w.tensor.shape as number[] });
      chunks.push(Float32Array.from(w.tensor.dataSync() as Float32Array));
    });
  }
  const total = chunks.reduce((s, c) => s + c.length, 0);
  const all = new Float32Array(total);
  let o = 0;
  for (const c of chunks) { all.set(c, o); o += c.length; }
  const full: GanCheckpointMeta = { ...meta, format: 'pinhole-gan-checkpoint-1', tensors: entries, savedAt: new Date().toISOString() };
  await mkdir(dir, { recursive: true });
  const name = `ckpt-${meta.phase}-${String(meta.step).padStart(7, '0')}`;
  const tmp = path.join(dir, `.${name}.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  await writeFile(path.join(tmp, 'tensors.bin'), new Uint8Array(all.buffer));
  await writeFile(path.join(tmp, 'meta.json'), JSON.stringify(full));
  const final = path.join(dir, name);
  await rm(final, { recursive: true, force: true });
  await rename(tmp, final);
  await writeFile(path.join(dir, '.latest.tmp'), name);
  await rename(path.join(dir, '.latest.tmp'), path.join(dir, 'latest'));
  // keep the newest `keep`
  const all2 = (await readdir(dir)).filter((n) => n.startsWith('ckpt-')).sort((a, b) => statOrder(a) - statOrder(b));
  for (const old of all2.slice(0, Math.max(0, all2.length - keep))) if (old !== name) await rm(path.join(dir, old), { recursive: true, force: true });
  return final;
}

const PHASE_ORDER = ['text', 'stage1', 'stage2', 'classifier', 'done', 'wgan'];
function statOrder(name: string): number {
  const m = /^ckpt-([a-z0-9]+)-(\d+)$/.exec(name);
  if (!m) return -1;
  return Math.max(0, PHASE_ORDER.indexOf(m[1])) * 1e8 + Number(m[2]);
}

/** The newest checkpoint under dir, or undefined when there is none. */
export async function loadGanCheckpoint(dir: string): Promise<GanCheckpoint | undefined> {
  let name: string;
  try {
    name = (await readFile(path.join(dir, 'latest'), 'utf8')).trim();
  } catch {
    return undefined;
  }
  const cdir = path.join(dir, name);
  const meta = JSON.parse(await readFile(path.join(cdir, 'meta.json'), 'utf8')) as GanCheckpointMeta;
  if (meta.format !== 'pinhole-gan-checkpoint-1') throw new Error(`${cdir}: not a GAN checkpoint (${String(meta.format)})`);
  const buf = await readFile(path.join(cdir, 'tensors.bin'));
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const need = meta.tensors.reduce((s, e) => s + e.shape.reduce((a, b) => a * b, 1), 0);
  if (all.length !== need) throw new Error(`${cdir}: tensors.bin holds ${all.length} floats, meta.json describes ${need}`);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  let o = 0;
  for (const e of meta.tensors) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    tensors.set(e.key, { shape: e.shape, data: all.subarray(o, o + n) });
    o += n;
  }
  return { meta, tensors, dir: cdir };
}

/** Restores the named models' weights; shapes must match the checkpoint exactly. */
export function restoreModels(ck: GanCheckpoint, models: Record<string, tf.LayersModel>): void {
  for (const [k, m] of Object.entries(models)) {
    const values = m.weights.map((w, i) => {
      const t = ck.tensors.get(`model/${k}/${i}`);
      if (!t) throw new Error(`checkpoint ${ck.dir} has no weights for ${k} #${i} (${w.name})`);
      if (t.shape.join(',') !== (w.shape as number[]).join(',')) {
        throw new Error(`checkpoint ${ck.dir}: ${k} #${i} (${w.name}) is [${t.shape}] there, [${w.shape}] in the model`);
      }
      return tf.tensor(t.data, t.shape);
    });
    m.setWeights(values);
    tf.dispose(values);
  }
}

/** Restores optimizer state (moments, iteration counts) for optimizers saved under the same keys. */
export async function restoreOptimizers(ck: GanCheckpoint, optimizers: Record<string, tf.Optimizer>): Promise<void> {
  for (const [k, o] of Object.entries(optimizers)) {
    const current = await o.getWeights();
    const saved: Array<{ name: string; tensor: tf.Tensor }> = [];
    for (let i = 0; ck.tensors.has(`opt/${k}/${i}`); i++) {
      const t = ck.tensors.get(`opt/${k}/${i}`)!;
      saved.push({ name: current[i]?.name ?? `${k}_${i}`, tensor: tf.tensor(t.data, t.shape) });
    }
    if (saved.length) await o.setWeights(saved);
  }
}
