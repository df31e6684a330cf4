// Training kernels for the tfjs wasm backend.
//
// tfjs-backend-wasm 4.22 ships no Conv2DBackpropFilter (so no conv can train), no UnsortedSegmentSum
// (the gradient of Gather, i.e. of Embedding), and its Conv2DBackpropInput is a plain loop ~10x slower
// than its XNNPACK forward conv. We register:
//   Conv2DBackpropFilter: im2col of x, written transposed straight into the wasm heap, and ONE wasm
//     BatchMatMul  dW[K, F] = P^T[K, M] x dy[M, F]  (M = N*OH*OW, K = kh*kw*C), in column chunks
//     bounded in memory. No transpose anywhere: the wasm BatchMatMul is fast only without transpose
//     flags (transposeA measured ~15x slower), dy [N,OH,OW,F] already is [M, F], and this orientation
//     (many rows K, few columns F) ran ~2x faster than dy^T x P. im2col is a JS copy on the heap: the
//     wasm Slice/Concat/Gather kernels go element by element and did it 10-50x slower for C = 3 or
//     strided convs, see bench/README.md.
//   Conv2DBackpropInput: dx is the forward (XNNPACK) Conv2D of dy, zero-dilated by the stride and
//     padded by k-1-pad, with the filter rotated 180 degrees and its channel axes swapped.
//   UnsortedSegmentSum: scatter-add on the heap.
//   BatchMatMul/_FusedMatMul: transposed operands made explicit first (the flags hit a slow path);
//     batched fused products unfused (the stock kernel adds the bias wrongly when batch > 1).
//   Tile: block copies (the stock kernel is element-wise; BatchNorm's gradient tiles at every layer).
//   MaxPoolGrad: the stock wasm kernel returns wrong gradients once the heap holds reused memory
//     (seen in training-like use: up to 80% relative error against the cpu backend and a plain JS
//     reference), so ours routes dy to the first maximum of each window, like the cpu backend.
// All arithmetic-heavy work runs in wasm kernels (BatchMatMul, Conv2D, Transpose, Add); the JS parts
// only move memory.
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type TensorInfo = tf.TensorInfo;
type KernelArgs = { inputs: Record<string, TensorInfo>; backend: BackendWasm; attrs?: Record<string, unknown> };
type KernelFn = (args: KernelArgs) => TensorInfo;

/** Upper bound for one im2col chunk, in floats (64 MB by default). */
let im2colChunkFloats = 16 * 1024 * 1024;

/** Sets the im2col chunk bound (tests use a small one to exercise the chunked path); returns the old one. */
export function setIm2colChunkFloats(n: number): number {
  const old = im2colChunkFloats;
  im2colChunkFloats = Math.max(1, Math.floor(n));
  return old;
}

function wasmKernel(name: string): KernelFn {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`tfjs wasm kernel ${name} is not registered`);
  return k.kernelFunc as unknown as KernelFn;
}

const view = (t: TensorInfo, shape: number[]): TensorInfo => ({ dataId: t.dataId, shape, dtype: t.dtype });

function heapF32(backend: BackendWasm, t: TensorInfo): Float32Array {
  // a fresh view every time: any allocation may grow (and so detach) the wasm memory
  return backend.typedArrayFromHeap(t) as Float32Array;
}

interface Geometry {
  n: number; h: number; w: number; c: number;
  kh: number; kw: number; f: number;
  sh: number; sw: number;
  oh: number; ow: number;
  top: number; left: number;
}

function geometry(xShape: number[], filterShape: number[], attrs: Record<string, unknown>, op: string): Geometry {
  const dataFormat = tf.backend_util.convertConv2DDataFormat((attrs.dataFormat as 'NHWC' | 'NCHW') ?? 'NHWC');
  if (dataFormat !== 'channelsLast') throw new Error(`wasm ${op}: only NHWC is supported, got ${String(attrs.dataFormat)}`);
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as number | [number, number],
    1,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    false,
    dataFormat,
  );
  return {
    n: info.batchSize, h: info.inHeight, w: info.inWidth, c: info.inChannels,
    kh: info.filterHeight, kw: info.filterWidth, f: info.outChannels,
    sh: info.strideHeight, sw: info.strideWidth,
    oh: info.outHeight, ow: info.outWidth,
    top: info.padInfo.top, left: info.padInfo.left,
  };
}

/** The whole wasm heap as floats, and a tensor's offset in it (in floats). */
function heapAll(backend: BackendWasm): Float32Array {
  // re-read on every use: an allocation may have grown (and so replaced) the heap buffer
  return (backend.wasm as unknown as { HEAPF32: Float32Array }).HEAPF32;
}
const offsetOf = (backend: BackendWasm, t: TensorInfo): number => backend.dataIdMap.get(t.dataId)!.memoryOffset / 4;

/**
 * Writes columns [m0, m1) of the transposed im2col matrix of x at heap float offset pOff (x at xOff):
 * row k = (ky, kx, c), column m = (n, oy, ox), so the matrix is [K, m1 - m0]. Reads of x are
 * contiguous (C channels of one pixel), writes are C sequential streams.
 */
export function im2colColumns(heap: Float32Array, xOff: number, pOff: number, g: Geometry, m0: number, m1: number): void {
  const { h, w, c, kh, kw, sh, sw, oh, ow, top, left } = g;
  const mc = m1 - m0;
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      const rowBase = pOff + (ky * kw + kx) * c * mc;
      let col = 0;
      for (let m = m0; m < m1; m++, col++) {
        const ox = m % ow;
        const t = (m - ox) / ow;
        const oy = t % oh;
        const n = (t - oy) / oh;
        const iy = oy * sh + ky - top;
        const ix = ox * sw + kx - left;
        let d = rowBase + col;
        if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
          for (let e = 0; e < c; e++, d += mc) heap[d] = 0;
        } else {
          const s = xOff + ((n * h + iy) * w + ix) * c;
          for (let e = 0; e < c; e++, d += mc) heap[d] = heap[s + e];
        }
      }
    }
  }
}

function conv2DBackpropFilter({ inputs, backend, attrs = {} }: KernelArgs): TensorInfo {
  const { x, dy } = inputs;
  const filterShape = attrs.filterShape as number[];
  const g = geometry(x.shape, filterShape, attrs, 'Conv2DBackpropFilter');
  if (dy.shape[1] !== g.oh || dy.shape[2] !== g.ow || dy.shape[3] !== g.f) {
    throw new Error(`wasm Conv2DBackpropFilter: dy shape [${dy.shape}] does not match the conv output [${g.n},${g.oh},${g.ow},${g.f}]`);
  }
  const M = g.n * g.oh * g.ow;
  const K = g.kh * g.kw * g.c;
  const matMul = wasmKernel('BatchMatMul');
  const add = wasmKernel('Add');
  const slice = wasmKernel('Slice');
  const colsPerChunk = Math.max(1, Math.min(M, Math.floor(im2colChunkFloats / K)));
  let acc: TensorInfo | undefined;
  for (let m0 = 0; m0 < M; m0 += colsPerChunk) {
    const m1 = Math.min(M, m0 + colsPerChunk);
    const mc = m1 - m0;
    const pt = backend.makeOutput([1, K, mc], 'float32');
    im2colColumns(heapAll(backend), offsetOf(backend, x), offsetOf(backend, pt), g, m0, m1);
    // rows m0..m1 of dy as [M, F] are one contiguous block
    const b = mc === M ? view(dy, [1, M, g.f]) : view(slice({ inputs: { x: view(dy, [M, g.f]) }, backend, attrs: { begin: [m0, 0], size: [mc, g.f] } }), [1, mc, g.f]);
    const part = matMul({ inputs: { a: pt, b }, backend, attrs: { transposeA: false, transposeB: false } }); // [1, K, F]
    backend.disposeData(pt.dataId);
    if (mc !== M) backend.disposeData(b.dataId);
    if (acc) {
      const sum = add({ inputs: { a: acc, b: part }, backend });
      backend.disposeData(acc.dataId);
      backend.disposeData(part.dataId);
      acc = sum;
    } else {
      acc = part;
    }
  }
  return view(acc!, filterShape);
}

function conv2DBackpropInput({ inputs, backend, attrs = {} }: KernelArgs): TensorInfo {
  const { dy, filter } = inputs;
  const inputShape = attrs.inputShape as number[];
  const g = geometry(inputShape, filter.shape, attrs, 'Conv2DBackpropInput');
  const padTop = g.kh - 1 - g.top;
  const padLeft = g.kw - 1 - g.left;
  if (padTop < 0 || padLeft < 0) return stock.Conv2DBackpropInput!({ inputs, backend, attrs }); // explicit pads wider than the kernel
  // filter [kh, kw, C, F] -> rotated 180 degrees, [kh, kw, F, C] (one pass; the wasm Reverse kernel is slow)
  const wT = backend.makeOutput([g.kh, g.kw, g.f, g.c], 'float32');
  {
    const src = heapF32(backend, filter);
    const dst = heapF32(backend, wT);
    const { kh, kw, c, f } = g;
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const sBase = ((kh - 1 - ky) * kw + (kw - 1 - kx)) * c * f;
        const dBase = (ky * kw + kx) * f * c;
        for (let ci = 0; ci < c; ci++) {
          for (let fi = 0; fi < f; fi++) dst[dBase + fi * c + ci] = src[sBase + ci * f + fi];
        }
      }
    }
  }
  const conv = wasmKernel('Conv2D');
  let dx: TensorInfo;
  if (g.sh === 1 && g.sw === 1) {
    const pad = [[0, 0], [padTop, g.h - g.oh + g.top], [padLeft, g.w - g.ow + g.left], [0, 0]];
    dx = conv({ inputs: { x: dy, filter: wT }, backend, attrs: { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1] } });
  } else {
    // dy spread out by the stride inside a zero frame of the size a 'valid' conv needs
    const hd = g.h + g.kh - 1;
    const wd = g.w + g.kw - 1;
    const d = backend.makeOutput([g.n, hd, wd, g.f], 'float32');
    const out = heapF32(backend, d);
    const src = heapF32(backend, dy);
    out.fill(0);
    const f = g.f;
    for (let n = 0; n < g.n; n++) {
      for (let oy = 0; oy < g.oh; oy++) {
        const rowOut = (n * hd + padTop + oy * g.sh) * wd;
        let s = ((n * g.oh + oy) * g.ow) * f;
        for (let ox = 0; ox < g.ow; ox++) {
          let o = (rowOut + padLeft + ox * g.sw) * f;
          for (let e = 0; e < f; e++) out[o++] = src[s++];
        }
      }
    }
    dx = conv({ inputs: { x: d, filter: wT }, backend, attrs: { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] } });
    backend.disposeData(d.dataId);
  }
  backend.disposeData(wT.dataId);
  return dx;
}

function unsortedSegmentSum({ inputs, backend, attrs = {} }: KernelArgs): TensorInfo {
  const { x, segmentIds } = inputs;
  const numSegments = attrs.numSegments as number;
  if (x.dtype !== 'float32') throw new Error(`wasm UnsortedSegmentSum: only float32 data is supported, got ${x.dtype}`);
  const r = segmentIds.shape.length;
  const n = segmentIds.shape.reduce((a, b) => a * b, 1);
  const inner = x.shape.slice(r).reduce((a, b) => a * b, 1);
  const out = backend.makeOutput([numSegments, ...x.shape.slice(r)], 'float32');
  const o = heapF32(backend, out);
  const xs = heapF32(backend, x);
  const ids = backend.typedArrayFromHeap(segmentIds) as Int32Array;
  o.fill(0);
  for (let i = 0; i < n; i++) {
    const sgm = ids[i];
    if (sgm < 0 || sgm >= numSegments) continue; // as TF: out-of-range ids are dropped
    let a = sgm * inner;
    let b = i * inner;
    for (let e = 0; e < inner; e++) o[a++] += xs[b++];
  }
  return out;
}

function maxPoolGrad({ inputs, backend, attrs = {} }: KernelArgs): TensorInfo {
  const { dy, input } = inputs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize as number | [number, number],
    attrs.strides as number | [number, number],
    1,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const { top, left } = info.padInfo;
  const dx = backend.makeOutput(input.shape, 'float32');
  const d = heapF32(backend, dx);
  const x = heapF32(backend, input);
  const g = heapF32(backend, dy);
  d.fill(0);
  const best = new Float32Array(c);
  const at = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        best.fill(-Infinity);
        at.fill(-1);
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - top + ky;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw - left + kx;
            if (ix < 0 || ix >= w) continue;
            const base = ((b * h + iy) * w + ix) * c;
            for (let e = 0; e < c; e++) {
              const v = x[base + e];
              if (v > best[e]) {
                best[e] = v;
                at[e] = base + e;
              }
            }
          }
        }
        const gb = ((b * oh + oy) * ow + ox) * c;
        for (let e = 0; e < c; e++) if (at[e] >= 0) d[at[e]] += g[gb + e];
      }
    }
  }
  return dx;
}

/**
 * Tile by block copies: x goes into the first tile, then each axis from the innermost out is filled
 * by doubling copyWithin (memmove). The stock wasm Tile goes element by element, and BatchNorm's
 * gradient tiles per-channel vectors to the full activation size at every layer.
 */
function tile({ inputs, backend, attrs = {} }: KernelArgs): TensorInfo {
  const { x } = inputs;
  const reps = attrs.reps as number[];
  if (x.dtype === 'string' || x.dtype === 'complex64') return stock.Tile!({ inputs, backend, attrs });
  const r = x.shape.length;
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(outShape, x.dtype);
  const size = outShape.reduce((a, b) => a * b, 1);
  if (size === 0) return out;
  if (r === 0) {
    (backend.typedArrayFromHeap(out) as Float32Array).set(backend.typedArrayFromHeap(x) as Float32Array);
    return out;
  }
  const o = backend.typedArrayFromHeap(out) as Float32Array | Int32Array | Uint8Array;
  const src = backend.typedArrayFromHeap(x) as typeof o;
  const outStrides = new Array<number>(r);
  outStrides[r - 1] = 1;
  for (let a = r - 2; a >= 0; a--) outStrides[a] = outStrides[a + 1] * outShape[a + 1];
  const fill = (base: number, filled: number, total: number) => {
    while (filled < total) {
      const n = Math.min(filled, total - filled);
      o.copyWithin(base + filled, base, base + n);
      filled += n;
    }
  };
  // innermost axis: each row of x, copied and repeated along its own axis
  const inner = x.shape[r - 1];
  const rows = src.length / inner;
  const idx = new Array<number>(r).fill(0);
  for (let row = 0; row < rows; row++) {
    let base = 0;
    for (let a = 0; a < r - 1; a++) base += idx[a] * outStrides[a];
    const s0 = row * inner;
    if (inner * reps[r - 1] <= 32) {
      for (let rep = 0, q = base; rep < reps[r - 1]; rep++) for (let e = 0; e < inner; e++) o[q++] = src[s0 + e];
    } else {
      o.set(src.subarray(s0, s0 + inner), base);
      fill(base, inner, inner * reps[r - 1]);
    }
    for (let a = r - 2; a >= 0; a--) {
      if (++idx[a] < x.shape[a]) break;
      idx[a] = 0;
    }
  }
  // outer axes, innermost first: replicate the first tile's blocks along axis a
  for (let a = r - 2; a >= 0; a--) {
    if (reps[a] === 1) continue;
    const block = x.shape[a] * outStrides[a];
    const pre = new Array<number>(a).fill(0);
    const count = x.shape.slice(0, a).reduce((p, q) => p * q, 1);
    for (let k = 0; k < count; k++) {
      let base = 0;
      for (let j = 0; j < a; j++) base += pre[j] * outStrides[j];
      fill(base, block, block * reps[a]);
      for (let j = a - 1; j >= 0; j--) {
        if (++pre[j] < x.shape[j]) break;
        pre[j] = 0;
      }
    }
  }
  return out;
}

const batchOf = (t: TensorInfo): number => t.shape.slice(0, -2).reduce((a, b) => a * b, 1);

/**
 * The stock wasm _FusedMatMul adds the bias wrongly when the product is batched (rank 3 with batch > 1:
 * up to 0.7 absolute error against the cpu backend), so batched fused products run as product, bias
 * add and activation in three wasm kernels.
 */
function unfusedMatMul(args: KernelArgs): TensorInfo {
  const attrs = args.attrs ?? {};
  const { backend } = args;
  const { a, b, bias, preluActivationWeights } = args.inputs;
  let y = wasmKernel('BatchMatMul')({ inputs: { a, b }, backend, attrs: { transposeA: attrs.transposeA, transposeB: attrs.transposeB } });
  const step = (next: TensorInfo) => {
    backend.disposeData(y.dataId);
    y = next;
  };
  if (bias) step(wasmKernel('Add')({ inputs: { a: y, b: bias }, backend }));
  const act = (attrs.activation as string | undefined) ?? 'linear';
  switch (act) {
    case 'linear': break;
    case 'relu': step(wasmKernel('Relu')({ inputs: { x: y }, backend })); break;
    case 'relu6': step(wasmKernel('Relu6')({ inputs: { x: y }, backend })); break;
    case 'elu': step(wasmKernel('Elu')({ inputs: { x: y }, backend })); break;
    case 'sigmoid': step(wasmKernel('Sigmoid')({ inputs: { x: y }, backend })); break;
    case 'leakyrelu': step(wasmKernel('LeakyRelu')({ inputs: { x: y }, backend, attrs: { alpha: attrs.leakyreluAlpha } })); break;
    case 'prelu': step(wasmKernel('Prelu')({ inputs: { x: y, alpha: preluActivationWeights }, backend })); break;
    default: throw new Error(`wasm _FusedMatMul: activation ${act} is not supported`);
  }
  return y;
}

/**
 * Matrix products without transpose flags: the wasm BatchMatMul / _FusedMatMul run ~6-15x slower with
 * transposeA/transposeB set, and every Dense gradient asks for transposed products. The wasm Transpose
 * kernel makes the operand explicit, then the stock kernel runs its fast path.
 */
function plainMatMul(name: 'BatchMatMul' | '_FusedMatMul'): KernelFn {
  return (args) => {
    const attrs = args.attrs ?? {};
    const original = stock[name]!;
    if (name === '_FusedMatMul' && batchOf(args.inputs.a) * batchOf(args.inputs.b) > 1) return unfusedMatMul(args);
    if (!attrs.transposeA && !attrs.transposeB) return original(args);
    const transpose = wasmKernel('Transpose');
    const temps: TensorInfo[] = [];
    const flip = (t: TensorInfo): TensorInfo => {
      const r = t.shape.length;
      const perm = t.shape.map((_, i) => (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i));
      const out = transpose({ inputs: { x: t }, backend: args.backend, attrs: { perm } });
      temps.push(out);
      return out;
    };
    const inputs = { ...args.inputs };
    if (attrs.transposeA) inputs.a = flip(inputs.a);
    if (attrs.transposeB) inputs.b = flip(inputs.b);
    try {
      return original({ ...args, inputs, attrs: { ...attrs, transposeA: false, transposeB: false } });
    } finally {
      for (const t of temps) args.backend.disposeData(t.dataId);
    }
  };
}

/** The wasm backend's own kernels we replace, kept for fallbacks and for benchmarks. */
export const stock: Partial<Record<string, KernelFn>> = {};
const stockConfigs: Partial<Record<string, tf.KernelConfig>> = {};

export const OUR_WASM_KERNELS: Record<string, KernelFn> = {
  Conv2DBackpropFilter: conv2DBackpropFilter,
  Conv2DBackpropInput: conv2DBackpropInput,
  UnsortedSegmentSum: unsortedSegmentSum,
  MaxPoolGrad: maxPoolGrad,
  Tile: tile,
  BatchMatMul: plainMatMul('BatchMatMul'),
  _FusedMatMul: plainMatMul('_FusedMatMul'),
};

function register(name: string, fn: KernelFn): void {
  const base = stockConfigs[name];
  // keep the stock setup/dispose hooks: stock kernels we delegate to rely on their setup having run
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: fn as unknown as tf.KernelFunc, setupFunc: base?.setupFunc, disposeFunc: base?.disposeFunc });
}

let registered = false;

/** Registers (or replaces) our training kernels for the wasm backend; idempotent. */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  for (const [name, fn] of Object.entries(OUR_WASM_KERNELS)) {
    const existing = tf.getKernel(name, 'wasm');
    if (existing) {
      stock[name] = existing.kernelFunc as unknown as KernelFn;
      stockConfigs[name] = existing;
      tf.unregisterKernel(name, 'wasm');
    }
    register(name, fn);
  }
  registered = true;
}

/**
 * Swaps the wasm implementation of one kernel (benchmarks compare ours with alternatives).
 * `null` removes it; 'ours' and 'stock' select ours or the backend's original.
 */
export function setWasmKernel(name: string, impl: 'ours' | 'stock' | KernelFn | null): void {
  if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
  const fn = impl === 'ours' ? OUR_WASM_KERNELS[name] : impl === 'stock' ? stock[name] : impl;
  if (impl === 'stock' && !fn) throw new Error(`the wasm backend has no stock ${name} kernel`);
  if (fn) register(name, fn);
}
