// The trainable detectors, as tfjs LayersModels built only from layers the ONNX exporter knows
// (Conv2D, BatchNormalization, LeakyReLU, MaxPooling2D, Concatenate, Dense, Flatten, Dropout, Reorg).
// Architectures are small on purpose: training runs on a shared 2-core CPU (wasm backend) and every
// shipped model must run in <= 15 ms per image in ONNX Runtime.
import { tf } from '../backend.ts';
import { reorg } from '../layers/index.ts';
import { sharedCellHead } from '../layers/shared-cell-head.ts';
import { fastBatchNorm } from '../engine/batchnorm.ts';
import { stepSeededDropout } from '../engine/dropout.ts';

/**
 * Backbone description: 'M' = 2x2/2 maxpool, 'P' marks the passthrough source (YOLOv2), [filters, k] =
 * conv k x k (same padding, no bias) + BatchNorm + leaky ReLU .1; [filters, k, 2] = the same with stride 2.
 */
export type ArchItem = 'M' | 'P' | [number, number] | [number, number, number];

export interface V2Arch {
  backbone: ArchItem[];
  /** 1x1 conv applied to the passthrough source before reorg (darknet's yolo-voc uses 64) */
  passFilters: number;
  /** 3x3 conv after concatenating [reorg(pass), backbone] */
  headFilters: number;
}

/**
 * Darknet-19 scaled down: the same 3x3 / 1x1 alternation and maxpools, widths / 4 to / 8, four
 * maxpools (output stride 16, so 15-px objects get their own cell at 256x256) and the passthrough from
 * the stride-8 features, reorganised by darknet's reorg and concatenated to the last features.
 */
export const V2_SYNTH: V2Arch = {
  backbone: [
    [8, 3], 'M',
    [16, 3], 'M',
    [32, 3], [16, 1], [32, 3], 'M',
    [64, 3], [32, 1], [64, 3], 'P', 'M',
    [128, 3], [64, 1], [128, 3], [128, 3],
  ],
  passFilters: 16,
  headFilters: 128,
};

export function archStride(items: readonly ArchItem[]): number {
  return items.reduce((s, i) => s * (i === 'M' ? 2 : i === 'P' ? 1 : (i[2] ?? 1)), 1);
}

/** Why a YOLOv2/YOLO9000 model cannot be exported at input side `size`, or undefined when it can. */
export function exportSizeProblem(size: number, arch: V2Arch = V2_SYNTH): string | undefined {
  const stride = archStride(arch.backbone);
  return size % stride === 0 ? undefined : `--size ${size} is not a multiple of the network stride ${stride}`;
}

export interface Ctx {
  seed: number;
  n: number;
}

function convBlock(x: tf.SymbolicTensor, filters: number, k: number, ctx: Ctx, strides = 1): tf.SymbolicTensor {
  const i = ++ctx.n;
  const c = tf.layers.conv2d({
    name: `conv${i}`, filters, kernelSize: k, strides, padding: 'same', useBias: false,
    kernelInitializer: tf.initializers.heNormal({ seed: ctx.seed * 1000 + i }),
  }).apply(x) as tf.SymbolicTensor;
  const b = fastBatchNorm({ name: `bn${i}`, momentum: 0.99, epsilon: 1e-5 }).apply(c) as tf.SymbolicTensor;
  return tf.layers.leakyReLU({ name: `leaky${i}`, alpha: 0.1 }).apply(b) as tf.SymbolicTensor;
}

export function backbone(x: tf.SymbolicTensor, items: readonly ArchItem[], ctx: Ctx): { out: tf.SymbolicTensor; pass?: tf.SymbolicTensor } {
  let pass: tf.SymbolicTensor | undefined;
  let pools = 0;
  for (const it of items) {
    if (it === 'M') x = tf.layers.maxPooling2d({ name: `pool${++pools}`, poolSize: 2, strides: 2, padding: 'valid' }).apply(x) as tf.SymbolicTensor;
    else if (it === 'P') pass = x;
    else x = convBlock(x, it[0], it[1], ctx, it[2] ?? 1);
  }
  return { out: x, pass };
}

export interface V2ModelOptions {
  /** anchors x (5 + classes) output channels, channel = anchor * (5 + C) + entry */
  num: number;
  classes: number;
  arch?: V2Arch;
  seed?: number;
  /** fixed input size (for export); default any size that is a multiple of the stride */
  size?: number;
}

/**
 * YOLOv2 / YOLO9000: fully convolutional (any input whose sides are multiples of the stride), raw
 * linear output NHWC [N, H/s, W/s, num*(5+C)]; exported to NCHW it is darknet's region-layer input.
 */
export function buildYoloV2(o: V2ModelOptions): tf.LayersModel {
  const arch = o.arch ?? V2_SYNTH;
  const ctx: Ctx = { seed: o.seed ?? 1, n: 0 };
  const input = tf.input({ shape: [o.size ?? null, o.size ?? null, 3], name: 'image' });
  const { out, pass } = backbone(input, arch.backbone, ctx);
  if (!pass) throw new Error('YOLOv2 architecture needs a passthrough source (P)');
  const p = convBlock(pass, arch.passFilters, 1, ctx);
  const r = reorg({ name: 'reorg', stride: 2 }).apply(p) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate({ name: 'route', axis: -1 }).apply([r, out]) as tf.SymbolicTensor;
  const h = convBlock(cat, arch.headFilters, 3, ctx);
  const y = tf.layers.conv2d({
    name: 'region', filters: o.num * (5 + o.classes), kernelSize: 1, padding: 'same', useBias: true,
    kernelInitializer: tf.initializers.glorotUniform({ seed: ctx.seed * 1000 + 999 }), biasInitializer: 'zeros',
  }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: y, name: 'yolov2' });
}

export interface V1Arch {
  backbone: ArchItem[];
  /** 1x1 conv before flattening (keeps the dense layer small) */
  reduce: number;
  /** units of the hidden fully connected layer (the paper's 4096); 0 = none, as yolov1-tiny */
  hidden: number;
  dropout: number;
  /**
   * train the connected layer together with a 1x1 head shared by all cells (SharedCellHead), folded into
   * the connected layer at export; the connected layer then starts at zero and learns what the shared
   * head cannot (context from other cells)
   */
  sharedHead: boolean;
  /** with sharedHead: factor on the connected layer's output while training (its rate multiplier) */
  denseScale: number;
}

/**
 * YOLOv1 as the paper builds it: the pretrained convolutional layers (here YOLOv2's twelve, at their own
 * strides, so a trained YOLOv2 or the pretrained backbone initialises them as they were trained), then
 * new layers with random weights: a stride-2 3x3 convolution down to the grid and a 3x3 convolution on
 * it (the paper's last four convolutions, scaled down), a 1x1 reduction, and ONE fully connected layer
 * straight to the S*S*(C+5B) outputs, trained beside a shared cell head (SharedCellHead), which export
 * folds into it: the served model is this connected layer alone.
 * Measured on the synthetic scenes: with a hidden layer (512, then 2048, dropout .5) the class scores at
 * responsible cells stayed at chance (1/16) through 15k and 7.5k images, every hidden unit first having
 * to become selective for one cell from few examples; the direct layer alone stayed at chance too (~0.10
 * class argmax at truth cells after 1000 steps); beside the shared head, 0.18 held out at 2200 steps.
 * Through session 5 the layers after the stride-16 features were a maxpool and one 3x3 convolution
 * (V1_BACKBONE_POOLED, kept for those checkpoints): features a linear probe read the class from at only
 * 0.35-0.43 held out, the bound of the head (training/README.md).
 */
export const V1_SYNTH: V1Arch = {
  backbone: [
    [8, 3], 'M',
    [16, 3], 'M',
    [32, 3], [16, 1], [32, 3], 'M',
    [64, 3], [32, 1], [64, 3], 'M',
    [128, 3], [64, 1], [128, 3], [128, 3],
    [256, 3, 2], [256, 3],
  ],
  reduce: 64,
  hidden: 0,
  dropout: 0,
  sharedHead: true,
  denseScale: 0.02,
};

/** YOLOv1's layers through session 5 (runs whose state names no backbone): maxpool to stride 32, one conv. */
export const V1_BACKBONE_POOLED: ArchItem[] = [
  [8, 3], 'M',
  [16, 3], 'M',
  [32, 3], [16, 1], [32, 3], 'M',
  [64, 3], [32, 1], [64, 3], 'M',
  [128, 3], [64, 1], [128, 3], 'M',
  [128, 3],
];

export interface V1ModelOptions {
  size: number;
  side: number;
  num: number;
  classes: number;
  arch?: V1Arch;
  seed?: number;
  /** the exported form: the connected layer alone (a shared head, if any, folded into it) */
  inference?: boolean;
}

/**
 * YOLOv1: fixed input size; the last dense layer emits darknet's detection-layer layout
 * (probs [S*S][C], conf [S*S][B], boxes [S*S][B][4]) with no activation.
 */
export function buildYoloV1(o: V1ModelOptions): tf.LayersModel {
  const arch = o.arch ?? V1_SYNTH;
  const ctx: Ctx = { seed: o.seed ?? 1, n: 0 };
  const input = tf.input({ shape: [o.size, o.size, 3], name: 'image' });
  let x = backbone(input, arch.backbone, ctx).out;
  const stride = archStride(arch.backbone);
  if (o.size % stride !== 0) throw new Error(`yolov1 input ${o.size} is not a multiple of the backbone stride ${stride}`);
  const cells = convBlock(x, arch.reduce, 1, ctx);
  const shared = arch.sharedHead && !o.inference;
  x = tf.layers.flatten({ name: 'flatten' }).apply(cells) as tf.SymbolicTensor;
  if (arch.hidden > 0) {
    x = tf.layers.dense({
      name: 'fc1', units: arch.hidden, kernelInitializer: tf.initializers.heNormal({ seed: ctx.seed * 1000 + 901 }),
    }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.leakyReLU({ name: 'fc1_leaky', alpha: 0.1 }).apply(x) as tf.SymbolicTensor;
    if (arch.dropout > 0) x = stepSeededDropout({ name: 'dropout', rate: arch.dropout, seed: ctx.seed }).apply(x) as tf.SymbolicTensor;
  }
  let y = tf.layers.dense({
    name: 'detection', units: o.side * o.side * (o.classes + 5 * o.num),
    kernelInitializer: shared ? 'zeros' : tf.initializers.glorotUniform({ seed: ctx.seed * 1000 + 902 }),
  }).apply(x) as tf.SymbolicTensor;
  if (shared) {
    if (arch.hidden > 0) throw new Error('yolov1: a shared cell head needs the connected layer to read the cells directly (hidden 0)');
    y = sharedCellHead({ name: 'detection_shared', side: o.side, classes: o.classes, num: o.num, seed: ctx.seed * 1000 + 903, denseScale: arch.denseScale }).apply([cells, y]) as tf.SymbolicTensor;
  }
  return tf.model({ inputs: input, outputs: y, name: 'yolov1' });
}

/** 2 x multiply-adds of one forward pass at the given input size (for the budget and the bench). */
export function countFlops(model: tf.LayersModel, size: number): number {
  const convs = model.layers.filter((l) => l.getClassName() === 'Conv2D');
  const probe = tf.model({ inputs: model.inputs, outputs: convs.map((l) => l.output as tf.SymbolicTensor) });
  let flops = 0;
  tf.tidy(() => {
    const outs = probe.predict(tf.zeros([1, size, size, 3])) as tf.Tensor | tf.Tensor[];
    (Array.isArray(outs) ? outs : [outs]).forEach((o, i) => {
      const kernel = convs[i].getWeights()[0];
      const [kh, kw, cin, cout] = kernel.shape;
      flops += 2 * o.shape[1]! * o.shape[2]! * kh * kw * cin * cout;
    });
  });
  for (const l of model.layers) {
    if (l.getClassName() === 'Dense') {
      const [i, o] = l.getWeights()[0].shape;
      flops += 2 * i * o;
    }
  }
  return flops;
}
