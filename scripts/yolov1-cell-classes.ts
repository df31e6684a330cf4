// How well a YOLOv1 run classifies yet: class argmax accuracy, and the mean score of the true class, at
// the cells that hold a truth, on 64 training and 64 held-out images without augmentation:
//   node --import tsx scripts/yolov1-cell-classes.ts training/yolov1
// (training/README.md quotes it: the mAP of an early run is ~0 and says nothing about the classes).
import { initBackend, tf } from '../src/train/backend.ts';
import { findCheckpoint, loadCheckpoint, restoreWeights } from '../src/train/engine/checkpoint.ts';
import { buildModel, type YoloState } from '../src/train/yolo/trainers.ts';
import { makeBatch, openSources } from '../src/train/engine/batches.ts';
import { cellTruths } from '../src/train/yolo/v1-loss.ts';
const dir = process.argv[2];
const found = await findCheckpoint(dir);
if (!found) {
  // said before the wasm backend starts: its module turns any later uncaught error into a dump of itself
  console.error(`no checkpoint in ${dir}`);
  process.exit(2);
}
await initBackend();
// loading makes tensors: only once the backend is up
const ck = await loadCheckpoint(found);
const st = ck.meta.state as YoloState;
if (st.kind !== 'yolov1') throw new Error(`${dir} holds a ${st.kind} run, not yolov1`);
const model = buildModel(st, 1);
restoreWeights(model, ck.meta, ck.weights);
const C = st.names.length, side = st.side!, S = st.size;
for (const det of ['synth:1:12000', 'synth:999:500']) {
  const src = await openSources({ det });
  let hit = 0, n = 0, pSum = 0;
  for (let b = 0; b < 4; b++) {
    const batch = await makeBatch(src, { det, mode: 'resize', seed: 1, augment: null }, { id: b, size: S, items: Array.from({ length: 16 }, (_, k) => ({ src: 'det' as const, index: b * 16 + k })), epoch: 0, step: 0 });
    const out = tf.tidy(() => (model.predict(tf.tensor4d(batch.pixels, [16, S, S, 3])) as tf.Tensor).dataSync());
    const D = out.length / 16;
    batch.targets.forEach((t, k) => {
      for (const [cell, tb] of cellTruths(t.boxes.map((x) => ({ ...x, cls: x.classId })), side)) {
        const o = k * D + cell * C;
        let best = 0;
        for (let c = 1; c < C; c++) if (out[o + c] > out[o + best]) best = c;
        if (best === tb.cls) hit++;
        pSum += out[o + tb.cls];
        n++;
      }
    });
  }
  console.log(`${dir} step ${ck.meta.step} ${det}: class argmax at truth cells ${(hit / n).toFixed(3)} (${n} cells), mean score of the true class ${(pSum / n).toFixed(3)}`);
}
