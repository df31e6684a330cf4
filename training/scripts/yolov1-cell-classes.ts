// How well a YOLOv1 run classifies yet: class argmax accuracy, and the mean score of the true class, at
// the cells that hold a truth, on 64 training and 64 held-out images without augmentation:
//   node --import tsx training/scripts/yolov1-cell-classes.ts training/yolov1
// (training/README.md quotes it: the mAP of an early run is ~0 and says nothing about the classes).
import { tf } from '../../src/train/backend.ts';
import { openV1Run, truthCellBatches } from './yolov1-run.ts';
const dir = process.argv[2];
const run = await openV1Run(dir);
const C = run.state.names.length;
for (const det of ['synth:1:12000', 'synth:999:500']) {
  let hit = 0, n = 0, pSum = 0;
  for await (const { pixels, cells } of truthCellBatches(run, det, 0, 4)) {
    const out = tf.tidy(() => (run.model.predict(pixels) as tf.Tensor).dataSync());
    const D = out.length / 16;
    for (const t of cells) {
      const o = t.image * D + t.cell * C;
      let best = 0;
      for (let c = 1; c < C; c++) if (out[o + c] > out[o + best]) best = c;
      if (best === t.cls) hit++;
      pSum += out[o + t.cls];
      n++;
    }
  }
  console.log(`${dir} step ${run.step} ${det}: class argmax at truth cells ${(hit / n).toFixed(3)} (${n} cells), mean score of the true class ${(pSum / n).toFixed(3)}`);
}
