// face-api's TinyYolov2 family with depthwise-separable convolutions (TinyYolov2Base.runMobilenet) as an
// ONNX graph. What face-api does, layer by layer (src/tinyYolov2 in the package):
// - conv0: a plain 3x3 convolution with VALID padding (isFirstLayerConv2d, the Tiny Face Detector) or
//   a separable one like the others; then bias and leaky ReLU (slope 0.1);
// - conv1..conv5 (and conv6, conv7 when present): zero-pad 1, depthwise 3x3, pointwise 1x1, bias, leaky;
// - a 2x2 max pool with TensorFlow's SAME padding after conv0..conv4 (stride 2; an odd side gets its one
//   padding row/column at the end) and after conv5 (stride 1, so one at the end);
// - conv8: 1x1 convolution with bias, no activation: per cell num*5 values (tx ty tw th to per anchor,
//   no class entries for one class), in NCHW channel order anchor*5 + entry, darknet's region layout.
import { GraphBuilder, attr, type Dim } from '../graph.ts';
import { FaceApiError } from './errors.ts';
import type { Tensor } from './weights.ts';

export const INPUT_NAME = 'images';
export const OUTPUT_NAME = 'logits';
/** face-api's leaky(): x - relu(x - 0.1x) + ..., i.e. slope 0.1 (as float32) below zero */
const LEAKY = 0.1;

export interface SeparableBlock {
  name: string;
  kind: 'conv' | 'separable';
  cin: number;
  cout: number;
}

export interface FaceApiArch {
  /** what face-api calls it */
  title: string;
  blocks: SeparableBlock[];
  /** channels out of conv8: num * 5 */
  outChannels: number;
}

function shapeOf(t: Map<string, Tensor>, name: string): number[] | undefined {
  return t.get(name)?.shape;
}

function expectShape(t: Map<string, Tensor>, name: string, want: number[]): void {
  const got = shapeOf(t, name);
  if (!got) throw new FaceApiError(`the manifest has no tensor ${name} (expected shape [${want.join(',')}])`);
  if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
    throw new FaceApiError(`${name} has shape [${got.join(',')}], expected [${want.join(',')}]`);
  }
}

/** A block's width: its bias length (a 1-D tensor is hard to get wrong), else its filter's last axis. */
function outChannelsOf(t: Map<string, Tensor>, block: string, filter: string): number {
  const b = shapeOf(t, `${block}/bias`);
  if (b?.length === 1) return b[0];
  return shapeOf(t, `${block}/${filter}`)?.[3] ?? 0;
}

/**
 * Recognises the architecture from the weight names and checks every shape against it. Anything that
 * is not face-api's separable TinyYolov2 (SSD MobileNet, the landmark or recognition nets, the old
 * batch-norm TinyYolov2) is refused by name, as is a weight the network would not use.
 */
export function recogniseArch(t: Map<string, Tensor>): FaceApiArch {
  const names = [...t.keys()];
  const isSep = (p: string) => t.has(`${p}/depthwise_filter`) || t.has(`${p}/pointwise_filter`);
  const firstPlain = t.has('conv0/filters');
  if (!(firstPlain || isSep('conv0')) || !isSep('conv1') || !t.has('conv8/filters')) {
    const shown = names.slice(0, 6).join(', ') + (names.length > 6 ? `, ... (${names.length} tensors)` : '');
    throw new FaceApiError(`unknown architecture: expected face-api's TinyYolov2 with separable convolutions (conv0, ` +
      `conv1..conv5 depthwise/pointwise, conv8), as the Tiny Face Detector; found ${shown || 'no tensors'}`);
  }
  const blocks: SeparableBlock[] = [];
  let cin = 3;
  for (let k = 0; k <= 7; k++) {
    const name = `conv${k}`;
    if (k >= 6 && !isSep(name)) break;
    if (k === 0 && firstPlain) {
      const cout = outChannelsOf(t, name, 'filters');
      expectShape(t, 'conv0/filters', [3, 3, cin, cout]);
      expectShape(t, 'conv0/bias', [cout]);
      blocks.push({ name, kind: 'conv', cin, cout });
      cin = cout;
      continue;
    }
    expectShape(t, `${name}/depthwise_filter`, [3, 3, cin, 1]);
    const cout = outChannelsOf(t, name, 'pointwise_filter');
    expectShape(t, `${name}/pointwise_filter`, [1, 1, cin, cout]);
    expectShape(t, `${name}/bias`, [cout]);
    blocks.push({ name, kind: 'separable', cin, cout });
    cin = cout;
  }
  if (blocks.length === 7) throw new FaceApiError('conv6 is missing but conv7 is present');
  const outChannels = outChannelsOf(t, 'conv8', 'filters');
  expectShape(t, 'conv8/filters', [1, 1, cin, outChannels]);
  expectShape(t, 'conv8/bias', [outChannels]);
  if (outChannels !== 25) {
    throw new FaceApiError(`conv8 has ${outChannels} output channels; face-api's one-class detectors have 5 anchors x 5 = 25`);
  }
  const used = new Set(['conv8/filters', 'conv8/bias']);
  for (const b of blocks) {
    for (const s of b.kind === 'conv' ? ['filters', 'bias'] : ['depthwise_filter', 'pointwise_filter', 'bias']) used.add(`${b.name}/${s}`);
  }
  const extra = names.filter((n) => !used.has(n));
  if (extra.length) throw new FaceApiError(`unexpected tensor${extra.length > 1 ? 's' : ''} for this architecture: ${extra.join(', ')}`);
  const title = firstPlain && blocks.length === 6 ? 'Tiny Face Detector' : 'TinyYolov2 (separable convolutions)';
  return { title, blocks, outChannels };
}

/** Output grid side for an input side: conv0 VALID shrinks by 2, then five SAME pools halve (rounding up). */
export function gridSize(arch: FaceApiArch, size: number): number {
  let s = arch.blocks[0].kind === 'conv' ? size - 2 : size;
  for (let i = 0; i < 5; i++) s = Math.ceil(s / 2);
  return s;
}

/** HWIO (tfjs conv2d) -> OIHW (ONNX Conv). */
function hwioToOihw(t: Tensor): Float32Array {
  const [kh, kw, ci, co] = t.shape;
  const out = new Float32Array(t.data.length);
  for (let o = 0; o < co; o++) for (let i = 0; i < ci; i++) for (let h = 0; h < kh; h++) for (let w = 0; w < kw; w++) {
    out[((o * ci + i) * kh + h) * kw + w] = t.data[((h * kw + w) * ci + i) * co + o];
  }
  return out;
}

/** [kh, kw, C, 1] (tfjs depthwise) -> [C, 1, kh, kw] (ONNX Conv with group = C). */
function depthwiseToOnnx(t: Tensor): Float32Array {
  const [kh, kw, c] = t.shape;
  const out = new Float32Array(t.data.length);
  for (let ch = 0; ch < c; ch++) for (let h = 0; h < kh; h++) for (let w = 0; w < kw; w++) {
    out[(ch * kh + h) * kw + w] = t.data[(h * kw + w) * c + ch];
  }
  return out;
}

export interface FaceApiGraph {
  bytes: Uint8Array;
  grid: number;
}

/** Builds the network for a square input of `size` pixels (a multiple of 32, as face-api requires). */
export function buildGraph(arch: FaceApiArch, t: Map<string, Tensor>, size: number, docString: string): FaceApiGraph {
  const g = new GraphBuilder('faceapi-tiny-yolov2');
  const w = (name: string) => t.get(name)!;
  let x = g.input(INPUT_NAME, ['N', 3, size, size]);
  let side = size;
  const leaky = (v: string, hint: string) => g.node('LeakyRelu', [v], { alpha: attr.f(LEAKY) }, `${hint}_leaky`);
  const pool = (v: string, stride: number, hint: string) => {
    // TensorFlow SAME: total padding (out-1)*stride + 2 - side, all of it at the end (it is 0 or 1 here)
    const out = Math.ceil(side / stride);
    const pad = Math.max(0, (out - 1) * stride + 2 - side);
    side = out;
    return g.node('MaxPool', [v], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([stride, stride]), pads: attr.ints([0, 0, pad, pad]) }, `${hint}_pool`);
  };
  for (const [k, b] of arch.blocks.entries()) {
    const bias = g.initializer(`${b.name}_bias`, w(`${b.name}/bias`).data, [b.cout]);
    if (b.kind === 'conv') {
      const W = g.initializer(`${b.name}_weight`, hwioToOihw(w(`${b.name}/filters`)), [b.cout, b.cin, 3, 3]);
      x = leaky(g.node('Conv', [x, W, bias], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([0, 0, 0, 0]) }, b.name), b.name);
      side -= 2;
    } else {
      const D = g.initializer(`${b.name}_depthwise`, depthwiseToOnnx(w(`${b.name}/depthwise_filter`)), [b.cin, 1, 3, 3]);
      const P = g.initializer(`${b.name}_pointwise`, hwioToOihw(w(`${b.name}/pointwise_filter`)), [b.cout, b.cin, 1, 1]);
      const d = g.node('Conv', [x, D], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]), group: attr.i(b.cin) }, `${b.name}_dw`);
      x = leaky(g.node('Conv', [d, P, bias], { kernel_shape: attr.ints([1, 1]) }, `${b.name}_pw`), b.name);
    }
    if (k <= 4) x = pool(x, 2, b.name);
    else if (k === 5) x = pool(x, 1, b.name);
  }
  const c8 = w('conv8/filters');
  const W8 = g.initializer('conv8_weight', hwioToOihw(c8), [arch.outChannels, c8.shape[2], 1, 1]);
  const B8 = g.initializer('conv8_bias', w('conv8/bias').data, [arch.outChannels]);
  const y = g.node('Conv', [x, W8, B8], { kernel_shape: attr.ints([1, 1]) }, 'conv8');
  const outDims: Dim[] = ['N', arch.outChannels, side, side];
  g.output(y, OUTPUT_NAME, outDims);
  if (side !== gridSize(arch, size)) throw new Error(`internal: grid ${side} != ${gridSize(arch, size)}`);
  return { bytes: g.toModel({ producer: 'pinhole-faceapi', docString, metadata: { source: 'face-api' } }), grid: side };
}
