// Darknet network + weights -> ONNX graph. The graph ends at the tensor darknet feeds into its final
// [region]/[detection] layer (the oracle's `pre`): decoding is the vision module's job, so the model stays
// the same for any threshold, hier_thresh or NMS setting.
import { LEAKY_ALPHA } from '../../vision/activations.ts';
import { GraphBuilder, attr, type Dim } from '../graph.ts';
import type {
  Activation, ConnectedLayer, ConvLayer, DarknetNet, DetectionLayer, Dims, Layer, LocalLayer, MaxPoolLayer,
  RegionLayer, ReorgLayer, SoftmaxLayer,
} from './cfg.ts';
import { DarknetError } from './errors.ts';
import type { DarknetWeights, LayerParams } from './weights.ts';

export const INPUT_NAME = 'images';
export const OUTPUT_NAME = 'logits';

export interface DarknetOnnx {
  bytes: Uint8Array;
  input: { name: string; dims: Dim[] };
  output: { name: string; dims: Dim[] };
  /** the layer the output feeds (decoded outside the graph) */
  head: RegionLayer | DetectionLayer;
}

// darknet's inference batch norm: (x - mean) / (sqrt(var) + .000001f) * scale + bias. The epsilon sits
// OUTSIDE the square root, unlike ONNX BatchNormalization, so we fold it into the weights instead.
const BN_EPS = 1e-6;

function bnFactors(p: LayerParams, n: number): { f: Float64Array; shift: Float64Array } {
  const scales = p.scales!, mean = p.rolling_mean!, variance = p.rolling_variance!;
  const f = new Float64Array(n);
  const shift = new Float64Array(n);
  for (let o = 0; o < n; o++) {
    f[o] = scales[o] / (Math.sqrt(variance[o]) + BN_EPS);
    shift[o] = -mean[o] * f[o];
  }
  return { f, shift };
}

/** Folds batch norm into [n][k] row-major weights and biases, in place. */
function foldRows(w: Float32Array, b: Float32Array, p: LayerParams, n: number): void {
  const { f, shift } = bnFactors(p, n);
  const k = w.length / n;
  for (let o = 0; o < n; o++) {
    const fo = f[o];
    const row = w.subarray(o * k, (o + 1) * k);
    for (let j = 0; j < k; j++) row[j] *= fo;
    b[o] += shift[o];
  }
}

/** Same for weights stored [k][n] (transposed connected layers). */
function foldCols(w: Float32Array, b: Float32Array, p: LayerParams, n: number): void {
  const { f, shift } = bnFactors(p, n);
  const k = w.length / n;
  const f32 = Float32Array.from(f);
  for (let j = 0; j < k; j++) {
    const row = w.subarray(j * n, (j + 1) * n);
    for (let o = 0; o < n; o++) row[o] *= f32[o];
  }
  for (let o = 0; o < n; o++) b[o] += shift[o];
}

function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

const isImage = (d: Dims): boolean => d.c > 0 && d.h > 0 && d.w > 0;

class Emitter {
  readonly g = new GraphBuilder('darknet');
  private consts = new Map<number, string>();

  constructor(readonly net: DarknetNet, readonly weights: DarknetWeights) {}

  scalar(v: number): string {
    let n = this.consts.get(v);
    if (!n) {
      n = this.g.scalar('c', v);
      this.consts.set(v, n);
    }
    return n;
  }

  params(l: Layer): LayerParams {
    const p = this.weights.layers.get(l.index);
    if (!p) throw new DarknetError(`${this.net.file}:${l.line}: [${l.type}] (layer ${l.index}) has no weights record`);
    return p;
  }

  activation(x: string, a: Activation, hint: string): string {
    const g = this.g;
    switch (a) {
      case 'linear': return x;
      case 'leaky': return g.node('LeakyRelu', [x], { alpha: attr.f(LEAKY_ALPHA) }, `${hint}_leaky`);
      case 'relie': return g.node('LeakyRelu', [x], { alpha: attr.f(0.01) }, `${hint}_relie`);
      case 'relu': return g.node('Relu', [x], {}, `${hint}_relu`);
      case 'logistic': return g.node('Sigmoid', [x], {}, `${hint}_logistic`);
      case 'tanh': return g.node('Tanh', [x], {}, `${hint}_tanh`);
      case 'elu': return g.node('Elu', [x], { alpha: attr.f(1) }, `${hint}_elu`);
      // darknet's constants, not the SELU paper's longer ones.
      case 'selu': return g.node('Selu', [x], { alpha: attr.f(1.6732), gamma: attr.f(1.0507) }, `${hint}_selu`);
      case 'ramp': {
        const r = g.node('Relu', [x], {}, `${hint}_ramp_relu`);
        return g.node('Add', [r, g.node('Mul', [x, this.scalar(0.1)])], {}, `${hint}_ramp`);
      }
      case 'loggy': {
        const s2 = g.node('Mul', [g.node('Sigmoid', [x]), this.scalar(2)]);
        return g.node('Sub', [s2, this.scalar(1)], {}, `${hint}_loggy`);
      }
      case 'hardtan': return g.node('Clip', [x, this.scalar(-1), this.scalar(1)], {}, `${hint}_hardtan`);
      case 'lhtan': {
        // x inside [0,1]; .001 slope outside: clip(x) + .001 * (x - clip(x))
        const c = g.node('Clip', [x, this.scalar(0), this.scalar(1)]);
        const out = g.node('Mul', [g.node('Sub', [x, c]), this.scalar(0.001)]);
        return g.node('Add', [c, out], {}, `${hint}_lhtan`);
      }
      case 'plse': {
        // .125x + .5 inside [-4,4]; .01 slope outside
        const c = g.node('Clip', [x, this.scalar(-4), this.scalar(4)]);
        const mid = g.node('Add', [g.node('Mul', [c, this.scalar(0.125)]), this.scalar(0.5)]);
        const out = g.node('Mul', [g.node('Sub', [x, c]), this.scalar(0.01)]);
        return g.node('Add', [mid, out], {}, `${hint}_plse`);
      }
    }
  }

  conv(x: string, l: ConvLayer): string {
    const p = this.params(l);
    const cg = l.input.c / l.groups;
    let w = p.weights!;
    const b = p.biases!;
    if (l.flipped) w = transpose(w, cg * l.size * l.size, l.filters);
    if (l.batchNormalize) foldRows(w, b, p, l.filters);
    const hint = `l${l.index}`;
    const W = this.g.initializer(`${hint}_w`, w, [l.filters, cg, l.size, l.size]);
    const B = this.g.initializer(`${hint}_b`, b, [l.filters]);
    const P = l.padding;
    const y = this.g.node('Conv', [x, W, B], {
      kernel_shape: attr.ints([l.size, l.size]),
      strides: attr.ints([l.stride, l.stride]),
      pads: attr.ints([P, P, P, P]),
      group: attr.i(l.groups),
    }, `${hint}_conv`);
    return this.activation(y, l.activation, hint);
  }

  maxpool(x: string, l: MaxPoolLayer): string {
    // forward_maxpool_layer starts windows at -pad/2 (C division) and reads -FLT_MAX outside the image;
    // the trailing padding is whatever the last window reaches.
    const begin = Math.trunc(l.padding / 2);
    const end = (out: number, dim: number) => Math.max(0, (out - 1) * l.stride + l.size - dim - begin);
    const pads = [begin, begin, end(l.output.h, l.input.h), end(l.output.w, l.input.w)];
    const hint = `l${l.index}`;
    let input = x;
    let attrPads = pads;
    if (pads.some((v) => v >= l.size)) {
      // ONNX wants pads smaller than the kernel: pad explicitly with darknet's -FLT_MAX instead.
      const onnxPads = [0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]];
      input = this.g.node('Pad', [x, this.g.ints(`${hint}_pads`, onnxPads), this.scalar(-3.4028234663852886e38)],
        { mode: attr.s('constant') }, `${hint}_pad`);
      attrPads = [0, 0, 0, 0];
    }
    return this.g.node('MaxPool', [input], {
      kernel_shape: attr.ints([l.size, l.size]),
      strides: attr.ints([l.stride, l.stride]),
      pads: attr.ints(attrPads),
    }, `${hint}_maxpool`);
  }

  reorg(x: string, l: ReorgLayer): string {
    const s = l.stride;
    const { c, h, w } = l.input;
    const hint = `l${l.index}`;
    if (l.reverse) {
      // reorg_cpu(forward=1): out[c2][h*s+dy][w*s+dx] = in[(dy*s+dx)*C/s² + c2][h][w], which is DCR DepthToSpace.
      return this.g.node('DepthToSpace', [x], { blocksize: attr.i(s), mode: attr.s('DCR') }, `${hint}_reorg`);
    }
    // forward_reorg_layer calls reorg_cpu(forward=0) with the INPUT's w,h,c: it reads the input buffer as if
    // it were [C/s²][H*s][W*s], gathers it space-to-depth into [C][H][W] order, and the next layer reads
    // that buffer as [C*s²][H/s][W/s]. Two reinterpreting reshapes around an ONNX SpaceToDepth do the same.
    const as = this.g.node('Reshape', [x, this.g.ints(`${hint}_s1`, [0, c / (s * s), h * s, w * s])], {}, `${hint}_view`);
    const sd = this.g.node('SpaceToDepth', [as], { blocksize: attr.i(s) }, `${hint}_s2d`);
    return this.g.node('Reshape', [sd, this.g.ints(`${hint}_s2`, [0, l.output.c, l.output.h, l.output.w])], {}, `${hint}_reorg`);
  }

  local(x: string, l: LocalLayer): string {
    const p = this.params(l);
    const { c } = l.input;
    const k = l.size, kk = k * k, ckk = c * kk;
    const L = l.output.h * l.output.w;
    const hint = `l${l.index}`;
    // im2col as a depthwise convolution with one-hot kernels: output channel c*k*k + ky*k + kx picks
    // input channel c at offset (ky, kx), exactly im2col_cpu's row order.
    const onehot = new Float32Array(ckk * kk);
    for (let ch = 0; ch < c; ch++) for (let t = 0; t < kk; t++) onehot[(ch * kk + t) * kk + t] = 1;
    const K = this.g.initializer(`${hint}_im2col`, onehot, [ckk, 1, k, k]);
    const cols = this.g.node('Conv', [x, K], {
      kernel_shape: attr.ints([k, k]),
      strides: attr.ints([l.stride, l.stride]),
      pads: attr.ints([l.pad, l.pad, l.pad, l.pad]),
      group: attr.i(c),
    }, `${hint}_cols`);
    // [N, ckk, L] -> [L, ckk, N]; one matmul per location with that location's [n][ckk] weights.
    const flat = this.g.node('Reshape', [cols, this.g.ints(`${hint}_r1`, [0, ckk, L])]);
    const byLoc = this.g.node('Transpose', [flat], { perm: attr.ints([2, 1, 0]) });
    const W = this.g.initializer(`${hint}_w`, p.weights!, [L, l.filters, ckk]);
    const y = this.g.node('MatMul', [W, byLoc], {}, `${hint}_matmul`);
    const back = this.g.node('Transpose', [y], { perm: attr.ints([2, 1, 0]) });
    const img = this.g.node('Reshape', [back, this.g.ints(`${hint}_r2`, [0, l.filters, l.output.h, l.output.w])]);
    const B = this.g.initializer(`${hint}_b`, p.biases!, [l.filters, l.output.h, l.output.w]);
    const z = this.g.node('Add', [img, B], {}, `${hint}_local`);
    return this.activation(z, l.activation, hint);
  }

  /** x is [N, inputs]: darknet's C,H,W flattening, which is ONNX Flatten on NCHW. */
  connected(flat: string, l: ConnectedLayer): string {
    const p = this.params(l);
    const hint = `l${l.index}`;
    const t = this.weights.header.transposed;
    const w = p.weights!, b = p.biases!;
    if (l.batchNormalize) (t ? foldCols : foldRows)(w, b, p, l.outputs);
    const W = this.g.initializer(`${hint}_w`, w, t ? [l.inputs, l.outputs] : [l.outputs, l.inputs]);
    const B = this.g.initializer(`${hint}_b`, b, [l.outputs]);
    const y = this.g.node('Gemm', [flat, W, B], { transB: attr.i(t ? 0 : 1) }, `${hint}_gemm`);
    return this.activation(y, l.activation, hint);
  }

  softmax(x: string, l: SoftmaxLayer): string {
    const hint = `l${l.index}`;
    const grouped = this.g.node('Reshape', [x, this.g.ints(`${hint}_g`, [0, l.groups, l.inputs / l.groups])]);
    const scaled = l.temperature === 1 ? grouped : this.g.node('Div', [grouped, this.scalar(l.temperature)]);
    const sm = this.g.node('Softmax', [scaled], { axis: attr.i(-1) }, `${hint}_softmax`);
    return this.g.node('Reshape', [sm, this.g.ints(`${hint}_flat`, [0, l.inputs])], {}, `${hint}_out`);
  }

  batchnorm(x: string, l: Layer): string {
    const p = this.params(l);
    const c = l.input.c;
    const { f, shift } = bnFactors(p, c);
    const hint = `l${l.index}`;
    const F = this.g.initializer(`${hint}_scale`, Float32Array.from(f), [c, 1, 1]);
    const S = this.g.initializer(`${hint}_shift`, Float32Array.from(shift), [c, 1, 1]);
    return this.g.node('Add', [this.g.node('Mul', [x, F]), S], {}, `${hint}_bn`);
  }
}

/** The layer that decodes (the last, [region] or [detection]); refuses nets and weights ONNX cannot hold. */
function detectorHead(net: DarknetNet, weights: DarknetWeights): RegionLayer | DetectionLayer {
  const layers = net.layers;
  const head = layers[layers.length - 1];
  if (head.type !== 'region' && head.type !== 'detection') {
    throw new DarknetError(`${net.file}:${head.line}: the last layer is [${head.type}]; a detector must end in [region] or [detection]`);
  }
  for (const l of layers.slice(0, -1)) {
    if (l.type === 'region' || l.type === 'detection') {
      throw new DarknetError(`${net.file}:${l.line}: [${l.type}] (layer ${l.index}) must be the last layer`);
    }
  }
  // protobuf caps a message at 2 GiB; weights larger than that would need ONNX external data files.
  let floats = 0;
  for (const p of weights.layers.values()) for (const a of Object.values(p)) floats += a.length;
  if (4 * floats > 2 ** 31 - 2 ** 26) {
    throw new DarknetError(`${net.file}: ${(4 * floats / 2 ** 30).toFixed(2)} GiB of weights do not fit one ONNX protobuf (2 GiB limit)`);
  }
  return head;
}

/**
 * A layer's tensor with its actual rank: NCHW, or [N, outputs] (connected, softmax, flat route).
 * darknet hands the same flat buffer to whatever comes next, so consumers reshape as they need.
 */
interface LayerTensor {
  t: string;
  rank4: boolean;
  dims: Dims;
}

function asImage(g: GraphBuilder, v: LayerTensor, hint: string): string {
  if (v.rank4) return v.t;
  return g.node('Reshape', [v.t, g.ints(`${hint}_dims`, [0, v.dims.c, v.dims.h, v.dims.w])], {}, `${hint}_image`);
}

function asFlat(g: GraphBuilder, v: LayerTensor, hint: string): string {
  return v.rank4 ? g.node('Flatten', [v.t], { axis: attr.i(1) }, `${hint}_flatten`) : v.t;
}

/** One layer before the head: its tensor, from the previous layer's `cur` (route: from `outs`). */
function emitLayer(e: Emitter, net: DarknetNet, l: Layer, cur: LayerTensor, outs: LayerTensor[]): LayerTensor {
  const g = e.g;
  const hint = `l${l.index}`;
  const img = (t: string): LayerTensor => ({ t, rank4: true, dims: l.output });
  const vec = (t: string): LayerTensor => ({ t, rank4: false, dims: l.output });
  switch (l.type) {
    case 'convolutional': return img(e.conv(asImage(g, cur, hint), l));
    case 'maxpool': return img(e.maxpool(asImage(g, cur, hint), l));
    case 'avgpool': return img(g.node('GlobalAveragePool', [asImage(g, cur, hint)], {}, `${hint}_avgpool`));
    case 'reorg': return img(e.reorg(asImage(g, cur, hint), l));
    case 'local': return img(e.local(asImage(g, cur, hint), l));
    case 'batchnorm': return img(e.batchnorm(asImage(g, cur, hint), l));
    case 'connected': return vec(e.connected(asFlat(g, cur, hint), l));
    case 'softmax': return vec(e.softmax(asFlat(g, cur, hint), l));
    case 'dropout': return cur; // inference: darknet's dropout does nothing
    case 'route': {
      const src = l.layers.map((i) => outs[i]);
      if (src.length === 1) return src[0];
      if (isImage(l.output)) return img(g.node('Concat', src.map((v, k) => asImage(g, v, `${hint}_${k}`)), { axis: attr.i(1) }, `${hint}_route`));
      // sizes differ: darknet still copies each input's flat output back to back
      return vec(g.node('Concat', src.map((v, k) => asFlat(g, v, `${hint}_${k}`)), { axis: attr.i(1) }, `${hint}_route`));
    }
    default:
      throw new DarknetError(`${net.file}:${l.line}: [${l.type}] (layer ${l.index}) cannot be converted`);
  }
}

/** Emits the ONNX graph. Folds batch norm into the weight arrays IN PLACE: a DarknetWeights is used once. */
export function darknetToOnnx(net: DarknetNet, weights: DarknetWeights): DarknetOnnx {
  if (weights.consumed) throw new Error('darknetToOnnx: these weights were already converted (batch norm is folded in place)');
  const head = detectorHead(net, weights);
  weights.consumed = true;

  const e = new Emitter(net, weights);
  const g = e.g;
  const inDims: Dim[] = ['N', net.channels, net.height, net.width];
  const outs: LayerTensor[] = [];
  let cur: LayerTensor = { t: g.input(INPUT_NAME, inDims), rank4: true, dims: { c: net.channels, h: net.height, w: net.width } };
  for (const l of net.layers.slice(0, -1)) {
    cur = emitLayer(e, net, l, cur, outs);
    outs[l.index] = cur;
  }

  // region: [N, num*(coords+1+classes), H, W] = darknet's [anchor][entry][h][w] per image
  const x = head.type === 'region' ? asImage(g, cur, 'region') : asFlat(g, cur, 'detection');
  const outDims: Dim[] = head.type === 'region' ? ['N', head.input.c, head.input.h, head.input.w] : ['N', head.inputs];
  g.output(x, OUTPUT_NAME, outDims);
  const bytes = g.toModel({
    producer: 'pinhole-darknet',
    docString: `darknet ${net.file}: raw input of the final [${head.type}] layer`,
    metadata: { source: 'darknet', head: head.type },
  });
  return { bytes, input: { name: INPUT_NAME, dims: inDims }, output: { name: OUTPUT_NAME, dims: outDims }, head };
}
