// Training throughput on the tfjs wasm backend with our Conv2DBackpropFilter kernel vs without it.
//
//   node --import tsx bench/train-kernel.ts [--steps 3] [--rounds 3] [--batch 8] [--size 128]
//
// Model: 6 x (conv 3x3 + BatchNorm + leaky ReLU), maxpools between, a 1x1 conv head (Darknet style),
// trained with Adam on a fixed random batch (compute only, no input pipeline). Configurations, all in
// this one process and interleaved round by round (the median round counts), so ratios are fair:
//   ours          our Conv2DBackpropFilter (im2col + one wasm BatchMatMul) and our Conv2DBackpropInput
//   per-tap       filter gradient as kh*kw wasm StridedSlice + BatchMatMul, one per kernel tap
//   cpu-fallback  filter gradient by tfjs-backend-cpu's generic kernel, data copied wasm -> cpu -> wasm
//   stock-input   ours for the filter, but the wasm backend's own (slow) Conv2DBackpropInput
// Without any Conv2DBackpropFilter the wasm backend cannot train a conv at all; "without our kernel"
// is the better of per-tap and cpu-fallback. The cpu fallback is so slow (~0.02 images/s here) that by
// default it is timed on one layer's filter gradient only (8x32x32x32 -> 64, 3x3), next to the other
// two implementations; --full-cpu-fallback also trains the whole model with it.
import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import { initBackend } from '../src/train/backend.ts';
import { OUR_WASM_KERNELS, setWasmKernel } from '../src/train/wasm-kernels.ts';
import { leakyRelu } from '../src/train/layers/index.ts';

type TensorInfo = tf.TensorInfo;
type Fn = (args: { inputs: Record<string, TensorInfo>; backend: WasmLike; attrs?: Record<string, unknown> }) => TensorInfo;
interface WasmLike {
  readSync(dataId: object): Float32Array;
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  disposeData(dataId: object): boolean;
}

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const STEPS = arg('steps', 3);
const ROUNDS = arg('rounds', 3);
const BATCH = arg('batch', 8);
const SIZE = arg('size', 128);
const FULL_CPU = process.argv.includes('--full-cpu-fallback');

const k = (name: string, backend = 'wasm'): Fn => tf.getKernel(name, backend)!.kernelFunc as unknown as Fn;
const view = (t: TensorInfo, shape: number[]): TensorInfo => ({ dataId: t.dataId, shape, dtype: t.dtype });

function convGeometry(xShape: number[], attrs: Record<string, unknown>) {
  return tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], attrs.filterShape as [number, number, number, number],
    attrs.strides as [number, number], 1, attrs.pad as 'same', attrs.dimRoundingMode as undefined, false, 'channelsLast');
}

/** Filter gradient as one wasm StridedSlice + BatchMatMul per kernel tap (the usual workaround). */
const perTapFilterGrad: Fn = ({ inputs, backend, attrs = {} }) => {
  const { x, dy } = inputs;
  const g = convGeometry(x.shape, attrs);
  const { top, left, bottom, right } = g.padInfo;
  const M = g.batchSize * g.outHeight * g.outWidth;
  const xp = k('PadV2')({ inputs: { x }, backend, attrs: { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 } });
  const dyT = k('Transpose')({ inputs: { x: view(dy, [M, g.outChannels]) }, backend, attrs: { perm: [1, 0] } });
  const taps: TensorInfo[] = [];
  for (let ky = 0; ky < g.filterHeight; ky++) {
    for (let kx = 0; kx < g.filterWidth; kx++) {
      const s = k('StridedSlice')({
        inputs: { x: xp }, backend, attrs: {
          begin: [0, ky, kx, 0],
          end: [g.batchSize, ky + (g.outHeight - 1) * g.strideHeight + 1, kx + (g.outWidth - 1) * g.strideWidth + 1, g.inChannels],
          strides: [1, g.strideHeight, g.strideWidth, 1], beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
        },
      });
      const t = k('BatchMatMul')({ inputs: { a: view(dyT, [1, g.outChannels, M]), b: view(s, [1, M, g.inChannels]) }, backend, attrs: { transposeA: false, transposeB: false } });
      backend.disposeData(s.dataId);
      taps.push(view(t, [1, g.outChannels, g.inChannels]));
    }
  }
  // the Concat kernel takes its inputs as an array
  const all = k('Concat')({ inputs: taps as unknown as Record<string, TensorInfo>, backend, attrs: { axis: 0 } });
  for (const t of taps) backend.disposeData(t.dataId);
  backend.disposeData(xp.dataId);
  backend.disposeData(dyT.dataId);
  const dw = k('Transpose')({ inputs: { x: all }, backend, attrs: { perm: [0, 2, 1] } });
  backend.disposeData(all.dataId);
  return view(dw, attrs.filterShape as number[]);
};

/** tfjs-backend-cpu's Conv2DBackpropFilter, with the data copied across. */
function cpuFallbackFilterGrad(): Fn {
  const cpu = tf.engine().findBackend('cpu') as unknown as { write(v: Float32Array, s: number[], d: string): object; readSync(id: object): Float32Array; disposeData(id: object): void };
  const cpuKernel = k('Conv2DBackpropFilter', 'cpu');
  return ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs;
    const xId = cpu.write(Float32Array.from(backend.readSync(x.dataId)), x.shape, 'float32');
    const dyId = cpu.write(Float32Array.from(backend.readSync(dy.dataId)), dy.shape, 'float32');
    const r = cpuKernel({ inputs: { x: { dataId: xId, shape: x.shape, dtype: 'float32' }, dy: { dataId: dyId, shape: dy.shape, dtype: 'float32' } }, backend: cpu as unknown as WasmLike, attrs });
    const vals = cpu.readSync(r.dataId);
    for (const id of [xId, dyId, r.dataId]) cpu.disposeData(id);
    const out = backend.makeOutput(r.shape, 'float32');
    backend.typedArrayFromHeap(out).set(vals);
    return out;
  };
}

function buildModel(): tf.LayersModel {
  const L = tf.layers;
  const x = tf.input({ shape: [SIZE, SIZE, 3] });
  let t = x;
  const filters = [16, 32, 64, 128, 128, 256];
  filters.forEach((f, i) => {
    t = L.conv2d({ filters: f, kernelSize: 3, padding: 'same', useBias: false }).apply(t) as tf.SymbolicTensor;
    t = L.batchNormalization().apply(t) as tf.SymbolicTensor;
    t = L.activation({ activation: leakyRelu }).apply(t) as tf.SymbolicTensor;
    if (i < 4) t = L.maxPooling2d({ poolSize: 2 }).apply(t) as tf.SymbolicTensor;
  });
  t = L.conv2d({ filters: 30, kernelSize: 1 }).apply(t) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: t });
}

async function main(): Promise<void> {
  const backendName = await initBackend('wasm');
  const model = buildModel();
  const opt = tf.train.adam(1e-3);
  const xs = tf.randomUniform([BATCH, SIZE, SIZE, 3], 0, 1, 'float32', 1);
  const out = model.outputs[0].shape.slice(1) as number[];
  const ys = tf.randomNormal([BATCH, ...out], 0, 1, 'float32', 2);
  const step = () => tf.tidy(() => {
    opt.minimize(() => tf.losses.meanSquaredError(ys, model.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar);
  });

  // time spent inside the filter-gradient kernel, per configuration
  const filterMs: Record<string, number> = {};
  let current = '';
  const timed = (fn: Fn): Fn => (a) => {
    const t0 = performance.now();
    const r = fn(a);
    filterMs[current] = (filterMs[current] ?? 0) + performance.now() - t0;
    return r;
  };
  const ours = timed(OUR_WASM_KERNELS.Conv2DBackpropFilter as unknown as Fn);
  const perTap = timed(perTapFilterGrad);
  const cpuFallback = timed(cpuFallbackFilterGrad());
  const use = (filter: Fn, input: 'ours' | 'stock') => () => {
    setWasmKernel('Conv2DBackpropFilter', filter as never);
    setWasmKernel('Conv2DBackpropInput', input);
  };
  const configs: Record<string, { use: () => void; steps: number; rounds: number }> = {
    ours: { use: use(ours, 'ours'), steps: STEPS, rounds: ROUNDS },
    'per-tap': { use: use(perTap, 'ours'), steps: STEPS, rounds: ROUNDS },
    'stock-input': { use: use(ours, 'stock'), steps: STEPS, rounds: ROUNDS },
  };
  // the cpu fallback is ~100x slower: one step in one round is plenty to measure it
  if (FULL_CPU) configs['cpu-fallback'] = { use: use(cpuFallback, 'ours'), steps: 1, rounds: 1 };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(configs).map((c) => [c, []]));
  const filterPerStep: Record<string, number[]> = Object.fromEntries(Object.keys(configs).map((c) => [c, []]));

  // every configuration must compute the same gradients, or its timing means nothing
  const probe = () => tf.tidy(() => {
    const x = tf.randomNormal([2, 21, 19, 8], 0, 1, 'float32', 3);
    const g = tf.randomNormal([2, 11, 10, 12], 0, 1, 'float32', 4);
    const w = tf.randomNormal([3, 3, 8, 12], 0, 1, 'float32', 5);
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'), g)))([x, w]);
    return [Float32Array.from(dx.dataSync()), Float32Array.from(dw.dataSync())];
  });
  configs.ours.use();
  const ref = probe();
  for (const [name, cfg] of Object.entries({ ...configs, 'cpu-fallback': { use: use(cpuFallback, 'ours') } })) {
    cfg.use();
    const got = probe();
    const rel = Math.max(...got.map((a, i) => {
      let d = 0, m = 0;
      for (let j = 0; j < a.length; j++) { d = Math.max(d, Math.abs(a[j] - ref[i][j])); m = Math.max(m, Math.abs(ref[i][j])); }
      return d / m;
    }));
    if (!(rel < 1e-4)) throw new Error(`configuration ${name} computes different gradients (relative difference ${rel})`);
  }

  console.log(`train-kernel: tfjs ${backendName} backend, ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'SIMD' : 'no SIMD'}, ` +
    `model 6 x conv3x3+BN+leaky @ ${SIZE}x${SIZE}, batch ${BATCH}, ${STEPS} steps x ${ROUNDS} rounds per configuration, load ${os.loadavg()[0].toFixed(1)}`);
  for (const cfg of Object.values(configs)) {
    cfg.use();
    step(); // warm-up: kernel setup, first allocations
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, cfg] of Object.entries(configs)) {
      if (r >= cfg.rounds) continue;
      cfg.use();
      current = name;
      filterMs[name] = 0;
      const t0 = performance.now();
      for (let s = 0; s < cfg.steps; s++) step();
      await tf.ready();
      times[name].push((performance.now() - t0) / cfg.steps);
      filterPerStep[name].push(filterMs[name] / cfg.steps);
    }
  }
  setWasmKernel('Conv2DBackpropFilter', 'ours');
  setWasmKernel('Conv2DBackpropInput', 'ours');

  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

  // one layer's filter gradient with each implementation (the cpu fallback included)
  const layer = { x: tf.randomNormal([8, 32, 32, 32], 0, 1, 'float32', 6), dy: tf.randomNormal([8, 32, 32, 64], 0, 1, 'float32', 7) };
  const layerMs: Record<string, number> = {};
  for (const [name, fn, reps] of [['ours', ours, 5], ['per-tap', perTap, 5], ['cpu-fallback', cpuFallback, 1]] as const) {
    setWasmKernel('Conv2DBackpropFilter', fn as never);
    const once = () => tf.tidy(() => {
      tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(layer.x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'), layer.dy)))(tf.zeros([3, 3, 32, 64])).dataSync();
    });
    if (reps > 1) once();
    const ts: number[] = [];
    for (let r = 0; r < reps; r++) {
      current = `layer-${name}`;
      filterMs[current] = 0;
      once();
      ts.push(filterMs[current]);
    }
    layerMs[name] = median(ts);
  }
  setWasmKernel('Conv2DBackpropFilter', 'ours');
  tf.dispose([layer.x, layer.dy]);
  console.log(`filter gradient of one layer (8x32x32x32 -> 64, 3x3 same), ms: ours ${layerMs.ours.toFixed(1)}, ` +
    `per-tap ${layerMs['per-tap'].toFixed(1)}, cpu-fallback ${layerMs['cpu-fallback'].toFixed(0)}`);
  const ips: Record<string, number> = {};
  console.log('configuration    ms/step   images/s   filter-grad ms/step');
  for (const name of Object.keys(configs)) {
    const ms = median(times[name]);
    ips[name] = (BATCH * 1000) / ms;
    console.log(`${name.padEnd(15)} ${ms.toFixed(0).padStart(8)} ${ips[name].toFixed(2).padStart(10)} ${median(filterPerStep[name]).toFixed(0).padStart(12)}`);
  }
  // the best fallback: per-tap unless the cpu fallback is faster on the layer (or, if run, on the model)
  const cpuBetter = FULL_CPU ? ips['cpu-fallback'] > ips['per-tap'] : layerMs['cpu-fallback'] < layerMs['per-tap'];
  if (cpuBetter && !FULL_CPU) throw new Error('the cpu fallback beat per-tap on the layer: rerun with --full-cpu-fallback');
  const best = cpuBetter ? 'cpu-fallback' : 'per-tap';
  const without = ips[best];
  const fOurs = median(filterPerStep.ours);
  const fBest = median(filterPerStep[best]);
  console.log(`train-kernel: ${ips.ours.toFixed(1)} images/s with our wasm Conv2DBackpropFilter vs ${without.toFixed(1)} without it ` +
    `(best fallback: ${best}) = ${(ips.ours / without).toFixed(2)}x; the filter gradient itself ${fOurs.toFixed(0)} vs ${fBest.toFixed(0)} ms/step ` +
    `= ${(fBest / fOurs).toFixed(2)}x; our Conv2DBackpropInput adds ${(ips.ours / ips['stock-input']).toFixed(2)}x over the stock one; ` +
    `cpu fallback ${(layerMs['cpu-fallback'] / layerMs.ours).toFixed(0)}x slower than ours on one layer`);
  tf.dispose([xs, ys]);
}

await main();
