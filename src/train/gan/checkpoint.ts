// Checkpoints for the GAN trainers, which hold several models and optimizers at once (generators,
// critics, text encoder, each with its own optimizer). Layout: DIR/ckpt-<phase>-<step>/{meta.json,
// tensors.bin} and DIR/latest naming the newest (folder handling and tensor packing in
// ../checkpoint-store.ts, shared with the detector checkpoints). Tensors are keyed model/<name>/<i> and
// opt/<name>/<i> by position, not by layer name. Random streams are keyed by (seed, step), so restoring
// the step restores them.
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  assignWeights, findCheckpoint, modelArrays, optimizerArrays, packFloat32, readCheckpointMeta, readTensorFile, writeCheckpoint,
  type CheckpointMetaBase,
} from '../checkpoint-store.ts';
import { tf } from '../backend.ts';

const FORMAT = 'pinhole-gan-checkpoint-1';

interface Entry {
  key: string;
  shape: number[];
}

export interface GanCheckpointMeta extends CheckpointMetaBase {
  format: typeof FORMAT;
  phase: string;
  tensors: Entry[];
}

export interface GanCheckpoint {
  meta: GanCheckpointMeta;
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  dir: string;
}

export async function saveGanCheckpoint(
  dir: string,
  meta: Omit<GanCheckpointMeta, 'format' | 'tensors' | 'savedAt'>,
  models: Record<string, tf.LayersModel>,
  optimizers: Record<string, tf.Optimizer>,
  keep = 2,
): Promise<string> {
  const all: Array<Entry & { data: Float32Array }> = [];
  for (const [k, m] of Object.entries(models)) modelArrays(m).forEach((w, i) => all.push({ key: `model/${k}/${i}`, shape: w.shape, data: w.data }));
  for (const [k, o] of Object.entries(optimizers)) (await optimizerArrays(o)).forEach((w, i) => all.push({ key: `opt/${k}/${i}`, shape: w.shape, data: w.data }));
  const full: GanCheckpointMeta = {
    ...meta, format: FORMAT, tensors: all.map(({ key, shape }) => ({ key, shape })), savedAt: new Date().toISOString(),
  };
  return writeCheckpoint(dir, `ckpt-${meta.phase}-${String(meta.step).padStart(7, '0')}`, {
    'tensors.bin': packFloat32(all.map((t) => t.data)),
    'meta.json': JSON.stringify(full),
  }, keep, rank);
}

const PHASE_ORDER = ['text', 'stage1', 'stage2', 'classifier', 'done', 'wgan'];

/** ckpt-<phase>-<step>: only these count when pruning, by phase (in training order), then step. */
function rank(folder: string): number | undefined {
  const m = /^ckpt-([a-z0-9]+)-(\d+)$/.exec(folder);
  if (!m) return undefined;
  return Math.max(0, PHASE_ORDER.indexOf(m[1])) * 1e8 + Number(m[2]);
}

/**
 * Where a run keeps its checkpoints: RUN/checkpoints, or RUN itself when it directly holds a
 * checkpoint (`latest`), as the copies committed under training/ do, so `--ckpt-dir training/NAME`
 * resumes from them.
 */
export function checkpointDir(runDir: string): string {
  return existsSync(path.join(runDir, 'latest')) ? runDir : path.join(runDir, 'checkpoints');
}

/** The newest checkpoint under dir (or dir itself when it is a checkpoint folder), or undefined when there is none. */
export async function loadGanCheckpoint(dir: string): Promise<GanCheckpoint | undefined> {
  const cdir = await findCheckpoint(dir);
  if (!cdir) return undefined;
  const meta = await readCheckpointMeta<GanCheckpointMeta>(cdir, FORMAT);
  const arrays = await readTensorFile(cdir, 'tensors.bin', meta.tensors.map((e) => e.shape));
  const tensors = new Map(meta.tensors.map((e, i) => [e.key, { shape: e.shape, data: arrays[i] }]));
  return { meta, tensors, dir: cdir };
}

/** Restores the named models' weights; shapes must match the checkpoint exactly. */
export function restoreModels(ck: GanCheckpoint, models: Record<string, tf.LayersModel>): void {
  for (const [k, m] of Object.entries(models)) {
    const saved = m.weights.map((w, i) => {
      const t = ck.tensors.get(`model/${k}/${i}`);
      if (!t) throw new Error(`checkpoint ${ck.dir} has no weights for ${k} #${i} (${w.name})`);
      if (t.shape.join(',') !== (w.shape as number[]).join(',')) {
        throw new Error(`checkpoint ${ck.dir}: ${k} #${i} (${w.name}) is [${t.shape}] there, [${w.shape}] in the model`);
      }
      return t;
    });
    assignWeights(m, saved);
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
