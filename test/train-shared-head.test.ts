// YOLOv1's shared cell head: trained beside the connected layer, folded into it at export. The folded
// (exported) model computes what the training model computes, and the shared weights let an object in
// one cell teach the classifier of every cell.
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../src/train/backend.ts';
import { buildYoloV1 } from '../src/train/yolo/models.ts';
import { foldInto } from '../src/train/yolo/trainers.ts';
import { detectionIndex } from '../src/train/layers/shared-cell-head.ts';
import { denseSquaredLoss, v1Targets, V1_DEFAULTS, type V1LossConfig } from '../src/train/yolo/v1-loss.ts';
import { Rng } from '../src/train/engine/rng.ts';

beforeAll(async () => {
  await initBackend();
});

const O = { size: 64, side: 2, num: 2, classes: 3, seed: 5 };
const randomise = (m: tf.LayersModel, seed: number) => {
  const rng = new Rng(seed);
  m.setWeights(m.weights.map((w) => {
    const n = (w.shape as number[]).reduce((a, b) => a * b, 1);
    const lo = /moving_variance|gamma/.test(w.originalName) ? 0.5 : -0.5;
    return tf.tensor(Float32Array.from({ length: n }, () => lo + rng.next()), w.shape as number[]);
  }));
};

describe('YOLOv1 shared cell head', () => {
  it('lays channel ch of a cell where the detection layer keeps it', () => {
    // side 2, 3 classes, 2 boxes: probs [4][3], conf [4][2], boxes [4][2][4]
    expect(detectionIndex(2, 3, 2, 1, 2)).toBe(5);
    expect(detectionIndex(2, 3, 2, 1, 4)).toBe(12 + 3);
    expect(detectionIndex(2, 3, 2, 3, 3 + 2 + 5)).toBe(12 + 8 + 3 * 8 + 5);
  });

  it('folds into the connected layer: the exported form computes the same outputs', () => {
    const train = buildYoloV1(O);
    expect(train.weights.some((w) => w.originalName === 'detection_shared/kernel')).toBe(true);
    randomise(train, 3);
    const plain = buildYoloV1({ ...O, inference: true });
    expect(plain.weights.some((w) => w.originalName.startsWith('detection_shared'))).toBe(false);
    foldInto({ side: O.side, num: O.num, names: ['a', 'b', 'c'] }, train, plain);
    const rng = new Rng(9);
    const x = tf.tensor4d(Float32Array.from({ length: 2 * 64 * 64 * 3 }, () => rng.next()), [2, 64, 64, 3]);
    const a = (train.predict(x) as tf.Tensor).dataSync();
    const b = (plain.predict(x) as tf.Tensor).dataSync();
    let max = 0, mag = 0;
    for (let i = 0; i < a.length; i++) {
      max = Math.max(max, Math.abs(a[i] - b[i]));
      mag = Math.max(mag, Math.abs(a[i]));
    }
    expect(mag).toBeGreaterThan(0.1);
    expect(max / mag).toBeLessThan(1e-5);
  });

  it('an object in one cell moves the class scores of the other cells (shared weights), the connected layer alone does not', () => {
    const cfg: V1LossConfig = { side: O.side, num: O.num, classes: O.classes, ...V1_DEFAULTS };
    const rng = new Rng(4);
    const x = tf.tensor4d(Float32Array.from({ length: 64 * 64 * 3 }, () => rng.next()), [1, 64, 64, 3]);
    const truth = [{ boxes: [{ x: 0.2, y: 0.2, w: 0.3, h: 0.3, cls: 1 }] }]; // cell 0 only
    for (const inference of [false, true]) {
      const m = buildYoloV1({ ...O, inference });
      const before = (m.predict(x) as tf.Tensor).dataSync();
      const kept = m.weights.map((w) => tf.clone(w.read()));
      const opt = tf.train.sgd(1e-4);
      // only the output layers learn, so the features (shared convolutions) stay as they are
      const head = m.trainableWeights.filter((w) => w.originalName.startsWith('detection')).map((w) => w.read() as tf.Variable);
      opt.minimize(() => {
        const out = m.apply(x, { training: true }) as tf.Tensor;
        return denseSquaredLoss(out, v1Targets(cfg, out.dataSync(), truth));
      }, false, head);
      // a training pass also moves the BatchNorm statistics: put them back
      m.weights.forEach((w, i) => { if (!w.originalName.startsWith('detection')) w.write(kept[i]); });
      const after = (m.predict(x) as tf.Tensor).dataSync();
      // class scores of cell 3 (no object there) and the trained cell 0
      const moved = (cell: number) => Math.max(...[0, 1, 2].map((c) => Math.abs(after[cell * 3 + c] - before[cell * 3 + c])));
      expect(moved(0)).toBeGreaterThan(1e-4);
      if (inference) expect(moved(3)).toBeLessThan(moved(0) * 1e-3);
      else expect(moved(3)).toBeGreaterThan(moved(0) * 0.05);
    }
  });
});
