// Linear probe of a YOLOv1 run: how well the class can be read from its features at the cells holding a
// truth (softmax regression on the frozen features of 640 training images, 70% fit / 30% held out), beside
// what the model's own head reads (training/scripts/yolov1-cell-classes.ts). training/README.md quotes it:
//   node --import tsx training/scripts/yolov1-feature-probe.ts training/yolov1 leaky11 leaky12 leaky13
import { tf } from '../../src/train/backend.ts';
import { openV1Run, truthCellBatches } from './yolov1-run.ts';
const dir = process.argv[2];
const layers = process.argv.slice(3);
const run = await openV1Run(dir, layers.length === 0 ? 'name at least one layer (e.g. leaky13)' : undefined);
const { model, state: st } = run;
const probe = tf.model({ inputs: model.inputs, outputs: layers.map((l) => model.getLayer(l).output as tf.SymbolicTensor) });
const side = st.side!;
const feats: number[][][] = layers.map(() => []);
const labels: number[] = [];
for await (const { pixels, cells } of truthCellBatches(run, 'synth:1:12000', 2000, 40)) {
  const outs = tf.tidy(() => { const o = probe.predict(pixels); return (Array.isArray(o) ? o : [o]).map((t) => ({ shape: t.shape, data: t.dataSync() })); });
  for (const t of cells) {
    outs.forEach((o, li) => {
      const [, h, w, c] = o.shape as number[];
      const r = Math.floor(t.cell / side), col = t.cell % side;
      const y = Math.min(h - 1, Math.floor((r + 0.5) * h / side)), x = Math.min(w - 1, Math.floor((col + 0.5) * w / side));
      const base = ((t.image * h + y) * w + x) * c;
      feats[li].push(Array.from(o.data.subarray(base, base + c)));
    });
    labels.push(t.cls);
  }
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
  console.log(`${dir} step ${run.step} layer ${layers[li]} (${Xn.shape[1]} ch): probe train ${acc(Xtr as tf.Tensor2D, labels.slice(0, half)).toFixed(3)} held ${acc(Xte as tf.Tensor2D, labels.slice(half)).toFixed(3)} (${n} cells)`);
}
