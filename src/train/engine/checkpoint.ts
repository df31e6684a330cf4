// Training checkpoints of the detectors and the backbone: model weights (trainable and BatchNorm
// statistics), optimizer state, position in the schedule (epoch, step, images seen) and everything the
// trainer needs to rebuild the same model (options, anchors, names, tree). The generators' state is
// implied by (seed, epoch, step): every random draw of training is derived from those, so restoring them
// restores the random streams too.
// Layout: DIR/ckpt-<step>/{meta.json, weights.bin, optimizer.bin}, DIR/latest naming the newest one
// (folder handling and tensor packing in ../checkpoint-store.ts, shared with the GAN checkpoints).
import {
  assignWeights, findCheckpoint, modelArrays, optimizerArrays, packFloat32, readCheckpointMeta, readTensorFile, writeCheckpoint,
  type CheckpointMetaBase,
} from '../checkpoint-store.ts';
import { tf } from '../backend.ts';

export { findCheckpoint };

const FORMAT = 'pinhole-checkpoint-1';

export interface TensorEntry {
  name: string;
  shape: number[];
}

export interface CheckpointMeta extends CheckpointMetaBase {
  format: typeof FORMAT;
  epoch: number;
  /** steps done inside `epoch` */
  stepInEpoch: number;
  /** images trained on */
  seen: number;
  weights: TensorEntry[];
  optimizer: TensorEntry[];
  /** running figures, for the log */
  loss?: number;
}

export interface Checkpoint {
  meta: CheckpointMeta;
  weights: Float32Array[];
  optimizer: { name: string; tensor: tf.Tensor }[];
}

/** ckpt-<step, 8 digits>: only these count when pruning, oldest step first. */
function rank(folder: string): number | undefined {
  const m = /^ckpt-(\d+)$/.exec(folder);
  return m ? Number(m[1]) : undefined;
}

export async function saveCheckpoint(dir: string, meta: Omit<CheckpointMeta, 'format' | 'weights' | 'optimizer' | 'savedAt'>,
  model: tf.LayersModel, optimizer: tf.Optimizer, keep = 2): Promise<string> {
  const weights = modelArrays(model);
  const opt = await optimizerArrays(optimizer);
  const table = ({ name, shape }: TensorEntry): TensorEntry => ({ name, shape });
  const full: CheckpointMeta = {
    ...meta,
    format: FORMAT,
    weights: weights.map(table),
    optimizer: opt.map(table),
    savedAt: new Date().toISOString(),
  };
  return writeCheckpoint(dir, `ckpt-${String(meta.step).padStart(8, '0')}`, {
    'weights.bin': packFloat32(weights.map((w) => w.data)),
    'optimizer.bin': packFloat32(opt.map((o) => o.data)),
    'meta.json': JSON.stringify(full, null, 1),
  }, keep, rank);
}

export async function loadCheckpoint(ckptDir: string): Promise<Checkpoint> {
  const meta = await readCheckpointMeta<CheckpointMeta>(ckptDir, FORMAT);
  const weights = await readTensorFile(ckptDir, 'weights.bin', meta.weights.map((e) => e.shape));
  const optArrays = await readTensorFile(ckptDir, 'optimizer.bin', meta.optimizer.map((e) => e.shape));
  const optimizer = meta.optimizer.map((e, i) => ({ name: e.name, tensor: tf.tensor(optArrays[i], e.shape) }));
  return { meta, weights, optimizer };
}

/** Puts checkpointed weights into a freshly built model of the same architecture. */
export function restoreWeights(model: tf.LayersModel, meta: CheckpointMeta, weights: Float32Array[]): void {
  if (model.weights.length !== meta.weights.length) {
    throw new Error(`checkpoint has ${meta.weights.length} weight tensors but the model has ${model.weights.length}: not the same architecture`);
  }
  model.weights.forEach((w, i) => {
    const e = meta.weights[i];
    if (e.shape.join() !== (w.shape as number[]).join() || e.name !== w.originalName) {
      throw new Error(`checkpoint weight ${i} is ${e.name} [${e.shape}], model has ${w.originalName} [${w.shape}]`);
    }
  });
  assignWeights(model, meta.weights.map((e, i) => ({ shape: e.shape, data: weights[i] })));
}
