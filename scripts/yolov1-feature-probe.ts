// Linear probe of a YOLOv1 run: how well the class can be read from its features at the cells holding a
// truth (softmax regression on the frozen features of 640 training images, 70% fit / 30% held out), beside
// what the model's own head reads (scripts/yolov1-cell-classes.ts). training/README.md quotes it:
//   node --import tsx scripts/yolov1-feature-probe.ts training/yolov1 leaky11 leaky12 leaky13
import { initBackend, tf } from '../src/train/backend.ts';
import { findCheckpoint, loadCheckpoint, restoreWeights } from '../src/train/engine/checkpoint.ts';
import { buildModel, type YoloState } from '../src/train/yolo/trainers.ts';
import { makeBatch, openSources } from '../src/train/engine/batches.ts';
import { cellTruths } from '../src/train/yolo/v1-loss.ts';
const dir = process.argv[2];
const layers = process.argv.slice(3);
const found = dir ? await findCheckpoint(dir) : undefined;
if (!found || layers.length === 0) {
  // said before the wasm backend starts: its module turns any later uncaught error into a dump of itself
  console.error(found ? 'name at least one layer (e.g. leaky13)' : `no checkpoint in ${dir ?? '(no folder given)'}`);
  process.exit(2);
}
await initBackend();
const ck = await loadCheckpoint(found);
const st = ck.meta.state as YoloState;
if (st.kind !== 'yolov1') throw new Error(`${dir} holds a ${st.kind} run, not yolov1`);
const model = buildModel(st, 1);
restoreWeights(model, ck.meta, ck.weights);
const probe = tf.model({ inputs: model.inputs, outputs: layers.map((l) => model.getLayer(l).output as tf.SymbolicTensor) });
const side = st.side!, S = st.size;
const det = 'synth:1:12000';
const src = await openSources({ det });
const feats: number[][][] = layers.map(() => []);
const labels: number[] = [];
for (let b = 0; b < 40; b++) {
  const batch = await makeBatch(src, { det, mode: 'resize', seed: 1, augment: null }, { id: b, size: S, items: Array.from({ length: 16 }, (_, k) => ({ src: 'det' as const, index: 2000 + b * 16 + k })), epoch: 0, step: 0 });
  const outs = tf.tidy(() => { const o = probe.predict(tf.tensor4d(batch.pixels, [16, S, S, 3])); return (Array.isArray(o) ? o : [o]).map((t) => ({ shape: t.shape, data: t.dataSync() })); });
  batch.targets.forEach((t, k) => {
    for (const [cell, tb] of cellTruths(t.boxes.map((x) => ({ ...x, cls: x.classId })), side)) {
      outs.forEach((o, li) => {
        const [, h, w, c] = o.shape as number[];
        const r = Math.floor(cell / side), col = cell % side;
        const y = Math.min(h - 1, Math.floor((r + 0.5) * h / side)), x = Math.min(w - 1, Math.floor((col + 0.5) * w / side));
        const base = ((k * h + y) * w + x) * c;
        feats[li].push(Array.from(o.data.subarray(base, base + c)));
      });
      labels.push(tb.cls);
    }
  });
}
const n = labels.length, half = Math.floor(n * 0.7), C = st.names.length;
for (let li = 0; li < layers.length; li++) {
  // softmax regression with Adam on the standardised fixed features, a little L2
  const X = tf.tensor2d(feats[li]);
  const mean = X.mean(0), std = tf.moments(X, 0).variance.sqrt().add(1e-5);
  const Xn = X.sub(mean).div(std) as tf.Tensor2D;
  const Xtr = Xn.slice([0, 0], [half, -1]), Xte = Xn.slice([half, 0], [-1, -1]);
  const Ytr = tf.oneHot(tf.tensor1d(labels.slice(0, half), 'int32'), C);
  const W = tf.variable(tf.zeros([Xn.shape[1], C])), bb = tf.variable(tf.zeros([C]));
  const opt = tf.train.adam(0.01);
  for (let i = 0; i < 300; i++) opt.minimize(() => tf.losses.softmaxCrossEntropy(Ytr, Xtr.matMul(W).add(bb)).add(W.square().sum().mul(1e-3)) as tf.Scalar);
  const acc = (Xs: tf.Tensor2D, ls: number[]) => { const p = Xs.matMul(W).add(bb).argMax(1).dataSync(); return ls.reduce((a, l, i) => a + (p[i] === l ? 1 : 0), 0) / ls.length; };
  console.log(`${dir} step ${ck.meta.step} layer ${layers[li]} (${Xn.shape[1]} ch): probe train ${acc(Xtr as tf.Tensor2D, labels.slice(0, half)).toFixed(3)} held ${acc(Xte as tf.Tensor2D, labels.slice(half)).toFixed(3)} (${n} cells)`);
}
