// What the YOLOv1 diagnostic scripts share: opening a run's newest checkpoint as a tfjs model, and
// walking batches of generated scenes (no augmentation) with the cells that hold a truth.
import { initBackend, tf } from '../../src/train/backend.ts';
import { findCheckpoint, loadCheckpoint, restoreWeights } from '../../src/train/engine/checkpoint.ts';
import { buildModel, type YoloState } from '../../src/train/yolo/trainers.ts';
import { makeBatch, openSources } from '../../src/train/engine/batches.ts';
import { cellTruths } from '../../src/train/yolo/v1-loss.ts';

export interface V1Run {
  model: tf.LayersModel;
  state: YoloState;
  step: number;
}

/**
 * The newest checkpoint in `dir` as a model; exits 2 with one line when there is none or `usage` names a
 * problem with the other arguments. Both are said before the wasm backend starts: its module turns any
 * later uncaught error into a dump of itself.
 */
export async function openV1Run(dir: string | undefined, usage?: string): Promise<V1Run> {
  const found = dir ? await findCheckpoint(dir) : undefined;
  if (!found || usage) {
    console.error(found ? usage : `no checkpoint in ${dir ?? '(no folder given)'}`);
    process.exit(2);
  }
  await initBackend();
  // loading makes tensors: only once the backend is up
  const ck = await loadCheckpoint(found);
  const state = ck.meta.state as YoloState;
  if (state.kind !== 'yolov1') throw new Error(`${dir} holds a ${state.kind} run, not yolov1`);
  const model = buildModel(state, 1);
  restoreWeights(model, ck.meta, ck.weights);
  return { model, state, step: ck.meta.step };
}

export interface TruthCell {
  /** image within the batch */
  image: number;
  cell: number;
  cls: number;
}

/** `batches` batches of 16 images of `det` from image `first` on, each with its truth cells (one per cell, as the loss assigns them). */
export async function* truthCellBatches(run: V1Run, det: string, first: number, batches: number): AsyncGenerator<{ pixels: tf.Tensor4D; cells: TruthCell[] }> {
  const src = await openSources({ det });
  const S = run.state.size, side = run.state.side!;
  for (let b = 0; b < batches; b++) {
    const items = Array.from({ length: 16 }, (_, k) => ({ src: 'det' as const, index: first + b * 16 + k }));
    const batch = await makeBatch(src, { det, mode: 'resize', seed: 1, augment: null }, { id: b, size: S, items, epoch: 0, step: 0 });
    const cells: TruthCell[] = [];
    batch.targets.forEach((t, image) => {
      for (const [cell, tb] of cellTruths(t.boxes.map((x) => ({ ...x, cls: x.classId })), side)) cells.push({ image, cell, cls: tb.cls });
    });
    const pixels = tf.tensor4d(batch.pixels, [16, S, S, 3]);
    try {
      yield { pixels, cells };
    } finally {
      pixels.dispose();
    }
  }
}
