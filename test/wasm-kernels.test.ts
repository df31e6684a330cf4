// Our wasm training kernels (src/train/wasm-kernels.ts) against tfjs's reference cpu backend:
// every gradient computed on wasm must equal the cpu one within 1e-4 relative (max |diff| / max |cpu|).
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../src/train/backend.ts';
import { setIm2colChunkFloats } from '../src/train/wasm-kernels.ts';
import { reorg, leakyRelu } from '../src/train/layers/index.ts';
import { rng, uniform } from './helpers/random.ts';

/** Runs f on the wasm and on the cpu backend with the same plain-array inputs; returns both results. */
function onBoth(f: () => tf.Tensor[]): { wasm: Float32Array[]; cpu: Float32Array[] } {
  const run = (b: string) => {
    tf.setBackend(b);
    // read the data outside tidy: tidy walks whatever it returns, element by element for typed arrays
    const ts = tf.tidy(f);
    const out = ts.map((t) => Float32Array.from(t.dataSync()));
    tf.dispose(ts);
    return out;
  };
  const wasm = run('wasm');
  const cpu = run('cpu');
  tf.setBackend('wasm');
  return { wasm, cpu };
}

function expectClose(wasm: Float32Array[], cpu: Float32Array[], what: string): number {
  expect(wasm.length).toBe(cpu.length);
  let worst = 0;
  wasm.forEach((a, i) => {
    const b = cpu[i];
    expect(a.length, `${what}[${i}] length`).toBe(b.length);
    let maxDiff = 0;
    let maxRef = 0;
    for (let k = 0; k < b.length; k++) {
      maxDiff = Math.max(maxDiff, Math.abs(a[k] - b[k]));
      maxRef = Math.max(maxRef, Math.abs(b[k]));
    }
    expect(maxRef, `${what}[${i}] is all zeros: the comparison would prove nothing`).toBeGreaterThan(0);
    const rel = maxDiff / maxRef;
    expect(rel, `${what}[${i}] relative error`).toBeLessThan(1e-4);
    worst = Math.max(worst, rel);
  });
  return worst;
}

/** Gradient of tfjs's resize (alignCorners = halfPixelCenters = false) by its definition. */
function refResizeGrad(mode: 'nearest' | 'bilinear', [n, h, w, c]: number[], oh: number, ow: number, g: Float32Array): Float32Array {
  const dx = new Float32Array(n * h * w * c);
  const ry = h / oh;
  const rx = w / ow;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        const sy = ry * y;
        const sx = rx * x;
        const taps: [number, number, number][] = mode === 'nearest'
          ? [[Math.min(h - 1, Math.floor(sy)), Math.min(w - 1, Math.floor(sx)), 1]]
          : (() => {
            const t = Math.floor(sy), bt = Math.min(h - 1, Math.ceil(sy)), fy = sy - t;
            const l = Math.floor(sx), rt = Math.min(w - 1, Math.ceil(sx)), fx = sx - l;
            return [[t, l, (1 - fy) * (1 - fx)], [t, rt, (1 - fy) * fx], [bt, l, fy * (1 - fx)], [bt, rt, fy * fx]];
          })();
        for (const [iy, ix, wt] of taps) {
          for (let e = 0; e < c; e++) dx[((b * h + iy) * w + ix) * c + e] += wt * g[((b * oh + y) * ow + x) * c + e];
        }
      }
    }
  }
  return dx;
}

/** Runs f with the cpu backend's (batch > 1 broken) ResizeNearestNeighborGrad replaced by the reference. */
function withFixedCpuResizeGrad<T>(f: () => T): T {
  const stockCpu = tf.getKernel('ResizeNearestNeighborGrad', 'cpu')!;
  tf.unregisterKernel('ResizeNearestNeighborGrad', 'cpu');
  tf.registerKernel({
    kernelName: 'ResizeNearestNeighborGrad',
    backendName: 'cpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { images, dy } = inputs as { images: tf.TensorInfo; dy: tf.TensorInfo };
      if ((attrs as { alignCorners?: boolean }).alignCorners || (attrs as { halfPixelCenters?: boolean }).halfPixelCenters) throw new Error('reference: defaults only');
      const b = backend as unknown as { readSync(id: object): Float32Array; makeTensorInfo(s: number[], d: string, v: Float32Array): tf.TensorInfo };
      const g = Float32Array.from(b.readSync(dy.dataId));
      return b.makeTensorInfo(images.shape, 'float32', refResizeGrad('nearest', images.shape, dy.shape[1], dy.shape[2], g));
    },
  });
  try {
    return f();
  } finally {
    tf.unregisterKernel('ResizeNearestNeighborGrad', 'cpu');
    tf.registerKernel(stockCpu);
  }
}

interface ConvCase { n: number; h: number; w: number; c: number; f: number; k: [number, number]; s: [number, number]; pad: 'same' | 'valid' }

function convCases(): ConvCase[] {
  const r = rng(42);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const cases: ConvCase[] = [
    { n: 2, h: 13, w: 11, c: 3, f: 8, k: [3, 3], s: [1, 1], pad: 'same' },
    { n: 2, h: 13, w: 11, c: 3, f: 8, k: [3, 3], s: [2, 2], pad: 'same' },
    { n: 2, h: 13, w: 11, c: 5, f: 4, k: [3, 3], s: [2, 2], pad: 'valid' },
    { n: 1, h: 16, w: 16, c: 4, f: 6, k: [4, 4], s: [2, 2], pad: 'same' }, // even kernel: asymmetric pad
    { n: 3, h: 9, w: 10, c: 7, f: 5, k: [1, 1], s: [1, 1], pad: 'same' },
    { n: 2, h: 10, w: 9, c: 2, f: 3, k: [5, 3], s: [3, 2], pad: 'same' },
    { n: 1, h: 8, w: 8, c: 32, f: 16, k: [3, 3], s: [1, 1], pad: 'valid' }, // long contiguous runs
  ];
  for (let i = 0; i < 13; i++) {
    const k = pick([1, 2, 3, 4, 5]);
    cases.push({
      n: 1 + Math.floor(r() * 3), h: k + Math.floor(r() * 12), w: k + Math.floor(r() * 12),
      c: 1 + Math.floor(r() * 9), f: 1 + Math.floor(r() * 9),
      k: [k, pick([k, 1, 3])], s: [pick([1, 2, 3]), pick([1, 2])], pad: pick(['same', 'valid'] as const),
    });
  }
  return cases;
}

beforeAll(async () => {
  await initBackend('wasm');
  expect(tf.getBackend()).toBe('wasm');
});

describe('wasm Conv2DBackpropFilter / Conv2DBackpropInput equal the cpu backend', () => {
  const cases = convCases();
  it.each(cases.map((c, i) => [i, c] as const))('case %i %o', (i, cs) => {
    const r = rng(100 + i);
    const xs: [number, number, number, number] = [cs.n, cs.h, cs.w, cs.c];
    const ws: [number, number, number, number] = [cs.k[0], cs.k[1], cs.c, cs.f];
    const x = uniform(xs.reduce((a, b) => a * b), r);
    const w = uniform(ws.reduce((a, b) => a * b), r);
    // dy of the conv's output shape, drawn once
    tf.setBackend('cpu');
    const outShape = tf.conv2d(tf.zeros(xs) as tf.Tensor4D, tf.zeros(ws) as tf.Tensor4D, cs.s, cs.pad).shape;
    tf.setBackend('wasm');
    const g = uniform(outShape.reduce((a, b) => a * b), r);
    const { wasm, cpu } = onBoth(() => {
      const grads = tf.grads((xt: tf.Tensor, wt: tf.Tensor) =>
        tf.sum(tf.mul(tf.conv2d(xt as tf.Tensor4D, wt as tf.Tensor4D, cs.s, cs.pad), tf.tensor(g, outShape))));
      return grads([tf.tensor(x, xs), tf.tensor(w, ws)]);
    });
    expectClose(wasm, cpu, `conv ${JSON.stringify(cs)} [dx, dW]`);
  });

  it('chunked im2col (bounded memory) gives the same filter gradient', () => {
    const r = rng(7);
    const xs: [number, number, number, number] = [3, 12, 10, 6];
    const ws: [number, number, number, number] = [3, 3, 6, 5];
    const x = uniform(3 * 12 * 10 * 6, r);
    const dyShape = [3, 6, 5, 5];
    const g = uniform(3 * 6 * 5 * 5, r);
    const dW = () => tf.tidy(() => {
      const f = tf.grad((wt: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(tf.tensor(x, xs) as tf.Tensor4D, wt as tf.Tensor4D, 2, 'same'), tf.tensor(g, dyShape))));
      return Float32Array.from(f(tf.randomNormal(ws)).dataSync());
    });
    const whole = dW();
    const old = setIm2colChunkFloats(7 * 54); // 7 columns of K = 54 per chunk: 90 columns in 13 chunks, the last partial
    try {
      const chunked = dW();
      expectClose([chunked], [whole], 'chunked dW');
    } finally {
      setIm2colChunkFloats(old);
    }
  });

  it('conv2dTranspose (forward = Conv2DBackpropInput) and its gradients, same/valid, strides 1-3', () => {
    const r = rng(9);
    for (const [k, s, pad] of [[3, 2, 'same'], [4, 2, 'same'], [3, 1, 'same'], [5, 2, 'valid'], [2, 3, 'valid'], [1, 2, 'same']] as const) {
      const [n, h, w, cin, cout] = [2, 5, 4, 6, 3];
      const oh = pad === 'same' ? h * s : h * s + Math.max(k - s, 0);
      const ow = pad === 'same' ? w * s : w * s + Math.max(k - s, 0);
      const x = uniform(n * h * w * cin, r);
      const f = uniform(k * k * cout * cin, r);
      const g = uniform(n * oh * ow * cout, r);
      const { wasm, cpu } = onBoth(() => {
        const fwd = (xt: tf.Tensor, ft: tf.Tensor) => tf.conv2dTranspose(xt as tf.Tensor4D, ft as tf.Tensor4D, [n, oh, ow, cout], s, pad);
        const y = fwd(tf.tensor(x, [n, h, w, cin]), tf.tensor(f, [k, k, cout, cin]));
        const grads = tf.grads((xt: tf.Tensor, ft: tf.Tensor) => tf.sum(tf.mul(fwd(xt, ft), tf.tensor(g, [n, oh, ow, cout]))));
        return [y, ...grads([tf.tensor(x, [n, h, w, cin]), tf.tensor(f, [k, k, cout, cin])])];
      });
      expectClose(wasm, cpu, `conv2dTranspose k${k} s${s} ${pad} [y, dx, dW]`);
    }
  });
});

describe('other gradients the YOLO and GAN models need run on wasm and equal cpu', () => {
  it('Embedding / gather gradient (UnsortedSegmentSum) with repeated ids', () => {
    const r = rng(11);
    const table = uniform(10 * 4, r);
    const g = uniform(2 * 5 * 4, r);
    const { wasm, cpu } = onBoth(() => {
      const ids = tf.tensor2d([[1, 3, 3, 9, 0], [3, 1, 7, 7, 7]], [2, 5], 'int32');
      const f = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), tf.tensor(g, [2, 5, 4]))));
      return [f(tf.tensor(table, [10, 4]))];
    });
    expectClose(wasm, cpu, 'gather grad');
  });

  it('pooling and activation gradients (MaxPoolGrad is ours: the stock wasm one is wrong on reused memory)', () => {
    const r = rng(12);
    const x = uniform(2 * 9 * 8 * 3, r);
    const shape = [2, 9, 8, 3];
    const ops: [string, (t: tf.Tensor) => tf.Tensor][] = [
      ['maxPool 2/2 valid', (t) => tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid')],
      ['maxPool 2/1 same (darknet)', (t) => tf.maxPool(t as tf.Tensor4D, 2, 1, 'same')],
      ['maxPool 3/2 same', (t) => tf.maxPool(t as tf.Tensor4D, 3, 2, 'same')],
      ['maxPool after relu (ties)', (t) => tf.maxPool(tf.relu(t) as tf.Tensor4D, 2, 2, 'same')],
      ['avgPool 2/2 same', (t) => tf.avgPool(t as tf.Tensor4D, 2, 2, 'same')],
      ['avgPool 3/1 same', (t) => tf.avgPool(t as tf.Tensor4D, 3, 1, 'same')],
      ['leakyRelu', (t) => tf.leakyRelu(t, 0.1)],
      ['selu', (t) => tf.selu(t)],
      ['elu', (t) => tf.elu(t)],
      ['relu', (t) => tf.relu(t)],
      ['sigmoid', (t) => tf.sigmoid(t)],
      ['tanh', (t) => tf.tanh(t)],
      ['softmax', (t) => tf.softmax(t)],
    ];
    for (const [name, op] of ops) {
      // twice: the second run sees heap memory reused from the first
      for (let rep = 0; rep < 2; rep++) {
        const { wasm, cpu } = onBoth(() => {
          const probe = op(tf.zeros(shape));
          const g = tf.tensor(uniform(probe.size, rng(name.length)), probe.shape);
          return [tf.grad((t: tf.Tensor) => tf.sum(tf.mul(op(t), g)))(tf.tensor(x, shape))];
        });
        expectClose(wasm, cpu, name);
      }
    }
  });

  it('matrix products with transpose flags (ours: explicit transpose, then the fast path) equal cpu', () => {
    const r = rng(14);
    // batched (fused products unfused) and plain rank 2 (fused products keep the stock fused kernel)
    for (const batch of [[3], []]) {
      for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
        const n = batch.length ? batch[0] : 1;
        const a = uniform(n * 7 * 5, r);
        const b = uniform(n * 5 * 4, r);
        const bias = uniform(4, r);
        const { wasm, cpu } = onBoth(() => {
          const A = tf.tensor(a, [...batch, ...(ta ? [5, 7] : [7, 5])]);
          const B = tf.tensor(b, [...batch, ...(tb ? [4, 5] : [5, 4])]);
          return [
            tf.matMul(A, B, ta, tb),
            tf.fused.matMul({ a: A, b: B, transposeA: ta, transposeB: tb, bias: tf.tensor(bias, [4]), activation: 'relu' }),
            // Dense-layer gradients take the transposed products
            ...tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y, ta, tb))))([A, B]),
          ];
        });
        expectClose(wasm, cpu, `matMul [${batch}] tA=${ta} tB=${tb}`);
      }
    }
  });

  it('Tile (ours, block copies) equals the cpu backend for ranks 1-5, float32/int32/bool', () => {
    const r = rng(13);
    for (let i = 0; i < 40; i++) {
      const rank = 1 + (i % 5);
      const shape = Array.from({ length: rank }, () => 1 + Math.floor(r() * 4));
      const reps = Array.from({ length: rank }, () => 1 + Math.floor(r() * 4));
      if (i % 7 === 0) shape[rank - 1] = 40; // long inner runs take the copyWithin path
      const n = shape.reduce((a, b) => a * b, 1);
      const dtype = (['float32', 'int32', 'bool'] as const)[i % 3];
      const vals = Array.from({ length: n }, () => (dtype === 'bool' ? Number(r() > 0.5) : Math.floor(r() * 1000) - 500));
      const run = (b: string) => {
        tf.setBackend(b);
        return tf.tidy(() => Array.from(tf.tile(tf.tensor(vals, shape, dtype), reps).dataSync()));
      };
      const w = run('wasm');
      const c = run('cpu');
      tf.setBackend('wasm');
      expect(w, `tile ${dtype} [${shape}] x [${reps}]`).toEqual(c);
    }
    // BatchNorm's pattern: a per-channel vector to a full activation
    const v = uniform(16, r);
    const { wasm, cpu } = onBoth(() => [tf.tile(tf.tensor(v, [1, 1, 1, 16]), [8, 32, 32, 1])]);
    expectClose(wasm, cpu, 'tile [1,1,1,16] x [8,32,32,1]');
  });

  it('nearest and bilinear resize gradients (stock wasm kernels) equal a plain JS reference', () => {
    // not compared with the cpu backend: its ResizeNearestNeighborGrad is wrong for batch > 1 and its
    // ResizeBilinearGrad swaps height and width (tfjs-backend-cpu 4.22)
    for (const [n, h, w, c, oh, ow] of [[2, 9, 8, 3, 18, 16], [3, 5, 7, 2, 10, 14], [2, 4, 4, 5, 12, 8], [1, 6, 3, 1, 7, 5]]) {
      const r = rng(n * 100 + h);
      const x = uniform(n * h * w * c, r);
      const g = uniform(n * oh * ow * c, r);
      for (const mode of ['nearest', 'bilinear'] as const) {
        const got = tf.tidy(() => {
          const op = (t: tf.Tensor) => (mode === 'nearest' ? tf.image.resizeNearestNeighbor : tf.image.resizeBilinear)(t as tf.Tensor4D, [oh, ow]);
          return Float32Array.from(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(op(t), tf.tensor(g, [n, oh, ow, c]))))(tf.tensor(x, [n, h, w, c])).dataSync());
        });
        expectClose([got], [refResizeGrad(mode, [n, h, w, c], oh, ow, g)], `${mode} ${n}x${h}x${w}x${c} -> ${oh}x${ow}`);
      }
    }
  });

  function yoloish(): tf.LayersModel {
    const L = tf.layers;
    const inp = tf.input({ shape: [16, 16, 3] });
    let t = L.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false }).apply(inp) as tf.SymbolicTensor;
    t = L.batchNormalization().apply(t) as tf.SymbolicTensor;
    t = L.leakyReLU({ alpha: 0.1 }).apply(t) as tf.SymbolicTensor;
    t = L.maxPooling2d({ poolSize: 2 }).apply(t) as tf.SymbolicTensor;
    const pass = reorg().apply(t) as tf.SymbolicTensor;
    t = L.conv2d({ filters: 12, kernelSize: 3, padding: 'same', activation: leakyRelu }).apply(t) as tf.SymbolicTensor;
    t = L.maxPooling2d({ poolSize: 2, strides: 1, padding: 'same' }).apply(t) as tf.SymbolicTensor;
    t = L.conv2d({ filters: 12, kernelSize: 3, strides: 2, padding: 'same' }).apply(t) as tf.SymbolicTensor;
    t = L.concatenate().apply([pass, t]) as tf.SymbolicTensor;
    t = L.conv2d({ filters: 10, kernelSize: 1 }).apply(t) as tf.SymbolicTensor;
    return tf.model({ inputs: inp, outputs: t });
  }

  function ganish(): tf.LayersModel {
    const L = tf.layers;
    const z = tf.input({ shape: [6] });
    let t = L.dense({ units: 4 * 4 * 8, activation: 'selu' }).apply(z) as tf.SymbolicTensor;
    t = L.reshape({ targetShape: [4, 4, 8] }).apply(t) as tf.SymbolicTensor;
    t = L.conv2dTranspose({ filters: 6, kernelSize: 4, strides: 2, padding: 'same', useBias: false }).apply(t) as tf.SymbolicTensor; // a bias before BN has zero gradient: nothing to compare
    t = L.batchNormalization().apply(t) as tf.SymbolicTensor;
    t = L.activation({ activation: 'relu' }).apply(t) as tf.SymbolicTensor;
    t = L.upSampling2d({ size: [2, 2] }).apply(t) as tf.SymbolicTensor;
    t = L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'tanh' }).apply(t) as tf.SymbolicTensor;
    t = L.conv2d({ filters: 4, kernelSize: 4, strides: 2, padding: 'same', activation: leakyRelu }).apply(t) as tf.SymbolicTensor;
    t = L.flatten().apply(t) as tf.SymbolicTensor;
    t = L.dense({ units: 1 }).apply(t) as tf.SymbolicTensor;
    return tf.model({ inputs: z, outputs: t });
  }

  for (const [name, build, inShape] of [['YOLO-style', yoloish, [4, 16, 16, 3]], ['GAN-style', ganish, [4, 6]]] as const) {
    it(`${name} model: gradients of every weight (BN in training mode) equal cpu`, () => {
      tf.setBackend('wasm');
      const model = build();
      const weights = model.getWeights().map((w) => ({ data: Float32Array.from(w.dataSync()), shape: w.shape }));
      const x = uniform((inShape as readonly number[]).reduce((a, b) => a * b, 1), rng(5));
      const y = (model.outputs[0].shape as number[]).slice(1);
      const target = uniform(inShape[0] * y.reduce((a, b) => a * b), rng(6));
      const { wasm, cpu } = withFixedCpuResizeGrad(() => onBoth(() => {
        model.setWeights(weights.map((w) => tf.tensor(w.data, w.shape)));
        const { grads } = tf.variableGrads(() => {
          const out = model.apply(tf.tensor(x, [...inShape]), { training: true }) as tf.Tensor;
          return tf.losses.meanSquaredError(tf.tensor(target, out.shape), out) as tf.Scalar;
        }, model.trainableWeights.map((v) => (v as unknown as { val: tf.Variable }).val));
        return Object.values(grads);
      }));
      expect(wasm.length).toBe(model.trainableWeights.length);
      expectClose(wasm, cpu, `${name} weight grads`);
    });
  }
});
