// One converter per tfjs layer class: tfjs config + weights -> ONNX nodes, keeping the layout rule of
// context.ts. Each converter gets the node's input values and the tfjs output shapes, and returns
// the output values.
import type * as tfTypes from '@tensorflow/tfjs';
import { attr, type Attr } from '../graph.ts';
import { LEAKY_ALPHA } from '../../vision/activations.ts';
import { reorgNchwPlan } from '../../vision/reorg.ts';
import { ExportContext, UnsupportedLayerError, layerWeights, permuteArray, type Value } from './context.ts';

type Layer = tfTypes.layers.Layer;
type Config = Record<string, unknown>;
type Shape = (number | null)[];

export interface LayerCall {
  ctx: ExportContext;
  layer: Layer;
  cls: string;
  config: Config;
  inputs: Value[];
  /** tfjs output shapes of this call (batch first) */
  outShapes: Shape[];
  /** tfjs input shapes of this call */
  inShapes: Shape[];
}

type Converter = (c: LayerCall) => Value[];

const fail = (c: LayerCall, detail: string): never => {
  throw new UnsupportedLayerError(c.layer.name, c.cls, detail);
};

const pair = (v: unknown): [number, number] => (typeof v === 'number' ? [v, v] : [Number((v as number[])[0]), Number((v as number[])[1])]);

function one(c: LayerCall): Value {
  if (c.inputs.length !== 1) fail(c, `expected one input, got ${c.inputs.length}`);
  return c.inputs[0];
}

function need4d(c: LayerCall, v: Value): void {
  if (v.shape.length !== 4) fail(c, `expected a 4-D NHWC input, got rank ${v.shape.length}`);
}

function channelsLast(c: LayerCall): void {
  const df = c.config.dataFormat;
  if (df !== undefined && df !== null && df !== 'channelsLast') fail(c, `dataFormat "${String(df)}" is not supported (only channelsLast)`);
}

/** The one input of a layer that works on images: 4-D, channels last (convs, pools, resizes, pads). */
function imageInput(c: LayerCall): Value {
  channelsLast(c);
  const x = one(c);
  need4d(c, x);
  return x;
}

/** The bias weight of a conv or dense layer; undefined when useBias is off. */
function biasWeight(c: LayerCall, W: ReturnType<typeof layerWeights>): { data: Float32Array } | undefined {
  if (c.config.useBias === false) return undefined;
  return W.get('bias') ?? fail(c, 'useBias is set but there is no bias weight');
}

/** The bias as a 1-D initializer. */
function biasInput(c: LayerCall, bias: { data: Float32Array }): string {
  return c.ctx.weight(`${c.layer.name}_B`, () => ({ data: bias.data, dims: [bias.data.length] }));
}

function out(c: LayerCall, name: string, layout: Value['layout'], k = 0, dtype: Value['dtype'] = 'float32'): Value {
  return { name, shape: c.outShapes[k], layout, dtype };
}

// ---------------------------------------------------------------- activations

/** Applies a tfjs activation identifier to a value; returns the value unchanged for 'linear'. */
export function applyActivation(c: LayerCall, v: Value, id: unknown, softmaxAxis = -1): Value {
  const { g } = c.ctx;
  const name = typeof id === 'string' ? id : id == null ? 'linear' : String((id as Config).className ?? id);
  const hint = `${c.layer.name}_${name}`;
  const unary = (op: string, attrs = {}): Value => ({ ...v, name: g.node(op, [v.name], attrs, hint) });
  switch (name) {
    case 'linear':
      return v;
    case 'relu':
      return unary('Relu');
    case 'relu6':
      return { ...v, name: g.node('Clip', [v.name, g.scalar('zero', 0), g.scalar('six', 6)], {}, hint) };
    case 'elu':
      return unary('Elu', { alpha: attr.f(1) });
    case 'selu':
      // ONNX Selu defaults are the SNN paper's constants, the same tf.selu uses
      return unary('Selu');
    case 'tanh':
      return unary('Tanh');
    case 'sigmoid':
      return unary('Sigmoid');
    case 'hardSigmoid':
      return unary('HardSigmoid', { alpha: attr.f(0.2), beta: attr.f(0.5) });
    case 'softplus':
      return unary('Softplus');
    case 'softsign':
      return unary('Softsign');
    case 'softmax':
      return unary('Softmax', { axis: attr.i(c.ctx.onnxAxis(v, softmaxAxis)) });
    case 'logSoftmax':
      return unary('LogSoftmax', { axis: attr.i(c.ctx.onnxAxis(v, softmaxAxis)) });
    case 'leakyRelu':
      return unary('LeakyRelu', { alpha: attr.f(LEAKY_ALPHA) });
    case 'swish':
      return { ...v, name: g.node('Mul', [v.name, g.node('Sigmoid', [v.name], {}, `${hint}_sig`)], {}, hint) };
    case 'mish': {
      const t = g.node('Tanh', [g.node('Softplus', [v.name], {}, `${hint}_sp`)], {}, `${hint}_tanh`);
      return { ...v, name: g.node('Mul', [v.name, t], {}, hint) };
    }
    case 'gelu': {
      const e = g.node('Erf', [g.node('Mul', [v.name, g.scalar('inv_sqrt2', Math.SQRT1_2)], {}, `${hint}_s`)], {}, `${hint}_erf`);
      const h = g.node('Mul', [g.node('Add', [e, g.scalar('one', 1)], {}, `${hint}_1p`), g.scalar('half', 0.5)], {}, `${hint}_h`);
      return { ...v, name: g.node('Mul', [v.name, h], {}, hint) };
    }
    default:
      return fail(c, `activation "${name}" is not supported`);
  }
}

// ---------------------------------------------------------------- padding helpers

/** TF 'same' padding for one spatial axis: [before, after]; extra padding goes after, as in TF. */
export function samePadding(inSize: number, k: number, stride: number, dilation: number): [number, number] {
  const eff = (k - 1) * dilation + 1;
  const outSize = Math.ceil(inSize / stride);
  const total = Math.max((outSize - 1) * stride + eff - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** pads / auto_pad attributes for Conv and pooling; static sizes give explicit pads. */
function spatialPadAttrs(c: LayerCall, inShape: Shape, k: [number, number], s: [number, number], d: [number, number]): Record<string, Attr> {
  const padding = c.config.padding;
  if (padding === 'valid') return { pads: attr.ints([0, 0, 0, 0]) };
  if (padding !== 'same') return fail(c, `padding "${String(padding)}" is not supported`);
  const [h, w] = [inShape[1], inShape[2]];
  if (h == null || w == null) return { auto_pad: attr.s('SAME_UPPER') }; // TF semantics as well, for unknown sizes
  const [pt, pb] = samePadding(h, k[0], s[0], d[0]);
  const [pl, pr] = samePadding(w, k[1], s[1], d[1]);
  return { pads: attr.ints([pt, pl, pb, pr]) };
}

// ---------------------------------------------------------------- converters

const identity: Converter = (c) => c.inputs.map((v, k) => ({ ...v, shape: c.outShapes[k] ?? v.shape }));

/**
 * An ONNX Conv for Conv2D and DepthwiseConv2D (a Conv with one group per input channel): NCHW input,
 * the kernel as ONNX lays it out, the bias if any, TF's padding, then the layer's activation.
 */
function convNode(c: LayerCall, x: Value, W: ReturnType<typeof layerWeights>, kernel: () => { data: Float32Array; dims: number[] }, group?: number): Value[] {
  const k = pair(c.config.kernelSize);
  const s = pair(c.config.strides ?? 1);
  const d = pair(c.config.dilationRate ?? 1);
  const inputs = [c.ctx.asNchw(x).name, c.ctx.weight(`${c.layer.name}_W`, kernel)];
  const bias = biasWeight(c, W);
  if (bias) inputs.push(biasInput(c, bias));
  const y = c.ctx.g.node('Conv', inputs, {
    kernel_shape: attr.ints(k),
    strides: attr.ints(s),
    dilations: attr.ints(d),
    ...(group === undefined ? {} : { group: attr.i(group) }),
    ...spatialPadAttrs(c, c.inShapes[0], k, s, d),
  }, c.layer.name);
  return [applyActivation(c, out(c, y, 'nchw'), c.config.activation)];
}

function conv2d(c: LayerCall): Value[] {
  const x = imageInput(c);
  const W = layerWeights(c.layer);
  const kernel = W.get('kernel') ?? fail(c, 'no kernel weight');
  // [kh,kw,in,out] -> [out, in, kh, kw]
  return convNode(c, x, W, () => permuteArray(kernel.data, kernel.shape, [3, 2, 0, 1]));
}

function depthwiseConv2d(c: LayerCall): Value[] {
  const x = imageInput(c);
  const W = layerWeights(c.layer);
  const kernel = W.get('depthwise_kernel') ?? fail(c, 'no depthwise_kernel weight');
  const [kh, kw, cin, mult] = kernel.shape;
  // [kh,kw,C,M] -> [C*M, 1, kh, kw]: output channel c*M+m belongs to group c, as in TF
  return convNode(c, x, W, () => {
    const p = permuteArray(kernel.data, kernel.shape, [2, 3, 0, 1]);
    return { data: p.data, dims: [cin * mult, 1, kh, kw] };
  }, cin);
}

function conv2dTranspose(c: LayerCall): Value[] {
  const x = imageInput(c);
  const k = pair(c.config.kernelSize);
  const s = pair(c.config.strides ?? 1);
  const d = pair(c.config.dilationRate ?? 1);
  if (d[0] !== 1 || d[1] !== 1) fail(c, 'dilationRate other than 1 is not supported');
  const padding = c.config.padding;
  if (padding !== 'same' && padding !== 'valid') fail(c, `padding "${String(padding)}" is not supported`);
  const W = layerWeights(c.layer);
  const kernel = W.get('kernel') ?? fail(c, 'no kernel weight');
  const inputs = [c.ctx.asNchw(x).name];
  // tfjs kernel [kh, kw, out, in] -> ONNX ConvTranspose W [in, out, kh, kw]
  inputs.push(c.ctx.weight(`${c.layer.name}_W`, () => permuteArray(kernel.data, kernel.shape, [3, 2, 0, 1])));
  const bias = biasWeight(c, W);
  if (bias) inputs.push(biasInput(c, bias));
  // tfjs output size: same -> in*s, valid -> in*s + max(k-s, 0). As the gradient of a forward conv
  // over that size, the forward conv's padding is max(k-s,0) for 'same' (less at the start), 0 for
  // 'valid'; positions the forward conv never reads (k < s) are ONNX's output_padding.
  const pads: number[] = [0, 0, 0, 0];
  if (padding === 'same') {
    for (let a = 0; a < 2; a++) {
      const total = Math.max(k[a] - s[a], 0);
      pads[a] = Math.floor(total / 2);
      pads[a + 2] = total - pads[a];
    }
  }
  const outputPadding = [Math.max(s[0] - k[0], 0), Math.max(s[1] - k[1], 0)];
  const y = c.ctx.g.node('ConvTranspose', inputs, {
    kernel_shape: attr.ints(k),
    strides: attr.ints(s),
    pads: attr.ints(pads),
    output_padding: attr.ints(outputPadding),
  }, c.layer.name);
  return [applyActivation(c, out(c, y, 'nchw'), c.config.activation)];
}

function dense(c: LayerCall): Value[] {
  const x = one(c);
  const W = layerWeights(c.layer);
  const kernel = W.get('kernel') ?? fail(c, 'no kernel weight');
  const [nin, nout] = kernel.shape;
  const bias = biasWeight(c, W);
  const { g } = c.ctx;
  let y: Value;
  if (x.shape.length === 4) {
    // Dense on NHWC acts on channels at every pixel: a 1x1 conv, so the tensor stays NCHW
    const inputs = [c.ctx.asNchw(x).name, c.ctx.weight(`${c.layer.name}_W1x1`, () => {
      const p = permuteArray(kernel.data, kernel.shape, [1, 0]);
      return { data: p.data, dims: [nout, nin, 1, 1] };
    })];
    if (bias) inputs.push(biasInput(c, bias));
    y = out(c, g.node('Conv', inputs, { kernel_shape: attr.ints([1, 1]) }, c.layer.name), 'nchw');
  } else if (x.shape.length === 2) {
    const inputs = [x.name, c.ctx.weight(`${c.layer.name}_W`, () => ({ data: kernel.data, dims: kernel.shape }))];
    if (bias) inputs.push(biasInput(c, bias));
    y = out(c, g.node('Gemm', inputs, {}, c.layer.name), 'native');
  } else {
    const xn = c.ctx.asNative(x);
    let t = g.node('MatMul', [xn.name, c.ctx.weight(`${c.layer.name}_W`, () => ({ data: kernel.data, dims: kernel.shape }))], {}, `${c.layer.name}_mm`);
    if (bias) t = g.node('Add', [t, biasInput(c, bias)], {}, c.layer.name);
    y = out(c, t, 'native');
  }
  return [applyActivation(c, y, c.config.activation)];
}

function batchNorm(c: LayerCall): Value[] {
  const x = one(c);
  const rawAxis = c.config.axis;
  const tfAxis = Array.isArray(rawAxis) ? (rawAxis.length === 1 ? Number(rawAxis[0]) : fail(c, 'multiple axes are not supported')) : Number(rawAxis ?? -1);
  const eps = Number(c.config.epsilon ?? 1e-3);
  const W = layerWeights(c.layer);
  const mean = W.get('moving_mean') ?? fail(c, 'no moving_mean weight');
  const variance = W.get('moving_variance') ?? fail(c, 'no moving_variance weight');
  const n = mean.data.length;
  const gamma = W.get('gamma')?.data ?? new Float32Array(n).fill(1);
  const beta = W.get('beta')?.data ?? new Float32Array(n);
  const axis = c.ctx.onnxAxis(x, tfAxis);
  const { g } = c.ctx;
  const p = (k: string, data: Float32Array, dims = [n]) => c.ctx.weight(`${c.layer.name}_${k}`, () => ({ data, dims }));
  if (axis === 1 && x.shape.length >= 2) {
    const y = g.node('BatchNormalization', [x.name, p('scale', gamma), p('bias', beta), p('mean', mean.data), p('var', variance.data)],
      { epsilon: attr.f(eps) }, c.layer.name);
    return [out(c, y, x.layout)];
  }
  // feature axis elsewhere (e.g. last axis of a rank-3 tensor): fold into x*a + b, broadcast on that axis
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a[i] = gamma[i] / Math.sqrt(variance.data[i] + eps);
    b[i] = beta[i] - mean.data[i] * a[i];
  }
  const dims = Array.from({ length: x.shape.length - axis }, (_, i) => (i === 0 ? n : 1));
  const y = g.node('Add', [g.node('Mul', [x.name, p('a', a, dims)], {}, `${c.layer.name}_mul`), p('b', b, dims)], {}, c.layer.name);
  return [out(c, y, x.layout)];
}

function pool(op: 'MaxPool' | 'AveragePool'): Converter {
  return (c) => {
    const x = imageInput(c);
    const k = pair(c.config.poolSize);
    const s = pair(c.config.strides ?? c.config.poolSize);
    const attrs: Record<string, Attr> = {
      kernel_shape: attr.ints(k),
      strides: attr.ints(s),
      ...spatialPadAttrs(c, c.inShapes[0], k, s, [1, 1]),
    };
    // TF averages over the valid (unpadded) part of the window only
    if (op === 'AveragePool') attrs.count_include_pad = attr.i(0);
    return [out(c, c.ctx.g.node(op, [c.ctx.asNchw(x).name], attrs, c.layer.name), 'nchw')];
  };
}

function globalPool(op: 'GlobalAveragePool' | 'GlobalMaxPool'): Converter {
  return (c) => {
    const x = imageInput(c);
    const { g } = c.ctx;
    const p = g.node(op, [c.ctx.asNchw(x).name], {}, `${c.layer.name}_pool`);
    if (c.outShapes[0].length === 4) return [out(c, p, 'nchw')]; // keepDims
    return [out(c, g.node('Flatten', [p], { axis: attr.i(1) }, c.layer.name), 'native')];
  };
}

function flatten(c: LayerCall): Value[] {
  const x = c.ctx.asNative(one(c)); // NHWC order, as tfjs flattens
  return [out(c, c.ctx.g.node('Flatten', [x.name], { axis: attr.i(1) }, c.layer.name), 'native')];
}

function reshape(c: LayerCall): Value[] {
  const x = c.ctx.asNative(one(c));
  const target = (c.config.targetShape as (number | null)[]).map((d) => (d == null ? -1 : d));
  // 0 keeps the (dynamic) batch size
  const y = c.ctx.g.node('Reshape', [x.name, c.ctx.g.ints(`${c.layer.name}_shape`, [0, ...target])], {}, c.layer.name);
  return [out(c, y, 'native')];
}

function permute(c: LayerCall): Value[] {
  const x = c.ctx.asNative(one(c));
  const dims = c.config.dims as number[];
  return [out(c, c.ctx.g.node('Transpose', [x.name], { perm: attr.ints([0, ...dims]) }, c.layer.name), 'native')];
}

/** Brings all inputs to one layout: NCHW if they are 4-D and any of them already is. */
function unify(c: LayerCall): Value[] {
  const ranks = new Set(c.inputs.map((v) => v.shape.length));
  if (ranks.size !== 1) fail(c, `inputs of different ranks (${[...ranks].join(', ')}) are not supported`);
  const nchw = c.inputs[0].shape.length === 4 && c.inputs.some((v) => v.layout === 'nchw');
  return c.inputs.map((v) => (nchw ? c.ctx.asNchw(v) : c.ctx.asNative(v)));
}

function concatenate(c: LayerCall): Value[] {
  const xs = unify(c);
  const axis = c.ctx.onnxAxis(xs[0], Number(c.config.axis ?? -1));
  return [out(c, c.ctx.g.node('Concat', xs.map((v) => v.name), { axis: attr.i(axis) }, c.layer.name), xs[0].layout)];
}

function merge(op: 'Sum' | 'Mul' | 'Mean' | 'Max' | 'Min'): Converter {
  return (c) => {
    const xs = unify(c);
    let y: string;
    if (op === 'Mul') {
      y = xs[0].name;
      for (let i = 1; i < xs.length; i++) y = c.ctx.g.node('Mul', [y, xs[i].name], {}, c.layer.name);
    } else {
      y = c.ctx.g.node(op, xs.map((v) => v.name), {}, c.layer.name);
    }
    return [out(c, y, xs[0].layout)];
  };
}

function upSampling2d(c: LayerCall): Value[] {
  const x = imageInput(c);
  const [sh, sw] = pair(c.config.size ?? 2);
  const interp = c.config.interpolation ?? 'nearest';
  const { g } = c.ctx;
  const scales = c.ctx.weight(`${c.layer.name}_scales`, () => ({ data: Float32Array.of(1, 1, sh, sw), dims: [4] }));
  // tfjs resizes with alignCorners=false, halfPixelCenters=false: src = floor(dst / scale), i.e. 'asymmetric'
  const attrs: Record<string, Attr> = interp === 'nearest'
    ? { mode: attr.s('nearest'), coordinate_transformation_mode: attr.s('asymmetric'), nearest_mode: attr.s('floor') }
    : interp === 'bilinear'
      ? { mode: attr.s('linear'), coordinate_transformation_mode: attr.s('asymmetric') }
      : fail(c, `interpolation "${String(interp)}" is not supported`);
  return [out(c, g.node('Resize', [c.ctx.asNchw(x).name, '', scales], attrs, c.layer.name), 'nchw')];
}

function zeroPadding2d(c: LayerCall): Value[] {
  const x = imageInput(c);
  const [[t, b], [l, r]] = c.config.padding as [[number, number], [number, number]];
  const pads = c.ctx.g.ints(`${c.layer.name}_pads`, [0, 0, t, l, 0, 0, b, r]);
  return [out(c, c.ctx.g.node('Pad', [c.ctx.asNchw(x).name, pads], { mode: attr.s('constant') }, c.layer.name), 'nchw')];
}

function cropping2d(c: LayerCall): Value[] {
  const x = imageInput(c);
  const [[t, b], [l, r]] = c.config.cropping as [[number, number], [number, number]];
  const { g } = c.ctx;
  const big = 2 ** 31 - 1;
  const y = g.node('Slice', [c.ctx.asNchw(x).name, g.ints(`${c.layer.name}_starts`, [t, l]),
    g.ints(`${c.layer.name}_ends`, [b > 0 ? -b : big, r > 0 ? -r : big]), g.ints(`${c.layer.name}_axes`, [2, 3])], {}, c.layer.name);
  return [out(c, y, 'nchw')];
}

function embedding(c: LayerCall): Value[] {
  const x = c.ctx.asNative(one(c));
  const W = layerWeights(c.layer);
  const table = W.get('embeddings') ?? fail(c, 'no embeddings weight');
  const { g } = c.ctx;
  // tfjs casts ids to int32 (truncation); ONNX Cast to int64 truncates the same way
  const ids = x.dtype === 'float32' ? g.node('Cast', [x.name], { to: attr.i(7) }, `${c.layer.name}_ids`) : x.name;
  const w = c.ctx.weight(`${c.layer.name}_table`, () => ({ data: table.data, dims: table.shape }));
  return [out(c, g.node('Gather', [w, ids], { axis: attr.i(0) }, c.layer.name), 'native')];
}

function activationLayer(c: LayerCall): Value[] {
  return [applyActivation(c, { ...one(c), shape: c.outShapes[0] }, c.config.activation)];
}

function reluLayer(c: LayerCall): Value[] {
  const x = one(c);
  const max = c.config.maxValue;
  if (max == null) return [applyActivation(c, x, 'relu')];
  const { g } = c.ctx;
  return [{ ...x, name: g.node('Clip', [x.name, g.scalar('zero', 0), g.scalar(`${c.layer.name}_max`, Number(max))], {}, c.layer.name) }];
}

function leakyReluLayer(c: LayerCall): Value[] {
  const x = one(c);
  return [{ ...x, name: c.ctx.g.node('LeakyRelu', [x.name], { alpha: attr.f(Number(c.config.alpha ?? 0.3)) }, c.layer.name) }];
}

function eluLayer(c: LayerCall): Value[] {
  const x = one(c);
  return [{ ...x, name: c.ctx.g.node('Elu', [x.name], { alpha: attr.f(Number(c.config.alpha ?? 1)) }, c.layer.name) }];
}

function thresholdedReluLayer(c: LayerCall): Value[] {
  const x = one(c);
  return [{ ...x, name: c.ctx.g.node('ThresholdedRelu', [x.name], { alpha: attr.f(Number(c.config.theta ?? 1)) }, c.layer.name) }];
}

function softmaxLayer(c: LayerCall): Value[] {
  const axis = c.config.axis;
  const a = Array.isArray(axis) ? (axis.length === 1 ? Number(axis[0]) : fail(c, 'softmax over several axes is not supported')) : Number(axis ?? -1);
  return [applyActivation(c, one(c), 'softmax', a)];
}

function preluLayer(c: LayerCall): Value[] {
  const x = one(c);
  const W = layerWeights(c.layer);
  const alpha = W.get('alpha') ?? fail(c, 'no alpha weight');
  // alpha has the input's shape without batch (1 on shared axes); reorder it like the tensor
  const slope = c.ctx.weight(`${c.layer.name}_slope`, () => {
    if (x.layout === 'nchw') return permuteArray(alpha.data, alpha.shape, [2, 0, 1]);
    return { data: alpha.data, dims: alpha.shape };
  });
  return [{ ...x, name: c.ctx.g.node('PRelu', [x.name, slope], {}, c.layer.name) }];
}

function reorgLayer(c: LayerCall): Value[] {
  const x = one(c);
  need4d(c, x);
  const [, h, w, ch] = x.shape;
  const s = Number(c.config.stride ?? 2);
  if (h == null || w == null || ch == null) fail(c, 'export needs static height, width and channels (build the model with a fixed input size)');
  let plan: ReturnType<typeof reorgNchwPlan>;
  try {
    plan = reorgNchwPlan(ch!, h!, w!, s);
  } catch (e) {
    return fail(c, (e as Error).message);
  }
  const { g } = c.ctx;
  const v = g.node('Reshape', [c.ctx.asNchw(x).name, g.ints(`${c.layer.name}_view`, [0, ...plan.view])], {}, `${c.layer.name}_view`);
  const p = g.node('Transpose', [v], { perm: attr.ints([0, ...plan.perm.map((a) => a + 1)]) }, `${c.layer.name}_perm`);
  const y = g.node('Reshape', [p, g.ints(`${c.layer.name}_out`, [0, ...plan.out])], {}, c.layer.name);
  return [out(c, y, 'nchw')];
}

export const CONVERTERS: Record<string, Converter> = {
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  Conv2DTranspose: conv2dTranspose,
  Dense: dense,
  BatchNormalization: batchNorm,
  MaxPooling2D: pool('MaxPool'),
  AveragePooling2D: pool('AveragePool'),
  GlobalAveragePooling2D: globalPool('GlobalAveragePool'),
  GlobalMaxPooling2D: globalPool('GlobalMaxPool'),
  Flatten: flatten,
  Reshape: reshape,
  Permute: permute,
  Concatenate: concatenate,
  Add: merge('Sum'),
  Multiply: merge('Mul'),
  Average: merge('Mean'),
  Maximum: merge('Max'),
  Minimum: merge('Min'),
  UpSampling2D: upSampling2d,
  ZeroPadding2D: zeroPadding2d,
  Cropping2D: cropping2d,
  Embedding: embedding,
  Activation: activationLayer,
  ReLU: reluLayer,
  LeakyReLU: leakyReluLayer,
  ELU: eluLayer,
  ThresholdedReLU: thresholdedReluLayer,
  Softmax: softmaxLayer,
  PReLU: preluLayer,
  Reorg: reorgLayer,
  // identity at inference
  Dropout: identity,
  SpatialDropout1D: identity,
  AlphaDropout: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
};
