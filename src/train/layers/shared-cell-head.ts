// A training-time companion of YOLOv1's connected output layer. The connected layer's weights are per
// cell, so the classifier of one cell learns only from the objects whose centre falls in it (~1/S² of
// them): on the generated scenes the class scores stayed at chance for thousands of steps (training/README).
// This layer adds, to the connected layer's output, one 1x1 convolution applied at every cell and laid
// out in darknet's detection order (probs [S²][C], conf [S²][B], boxes [S²][B][4]). Its weights are
// shared by all cells, so every object trains it. Being linear in each cell's own features, it is itself
// a connected layer with a particular weight pattern: foldSharedCellHead() adds it into the connected
// layer's kernel and bias, and the exported model is plain YOLOv1 (one Gemm), the same function.
// The connected layer's own output enters scaled by `denseScale`: Adam moves every weight by ~lr per
// step whatever its gradient, so the 4M per-cell weights, each with a sparse, noisy gradient, would
// otherwise add noise to every output faster than the shared head can learn the classes (the scale is
// the connected layer's learning-rate multiplier; it is folded into the kernel at export too).
import { tf } from '../backend.ts';
import { detectionBlocks } from '../../vision/yolov1.ts';

export interface SharedCellHeadArgs {
  side: number;
  classes: number;
  num: number;
  name?: string;
  seed?: number;
  /** factor on the connected layer's output (default 1) */
  denseScale?: number;
}

/** Where channel `ch` of cell `cell` lands in the detection layer's flat output. */
export function detectionIndex(side: number, classes: number, num: number, cell: number, ch: number): number {
  if (ch < classes) return cell * classes + ch;
  const blocks = detectionBlocks({ side, classes, num });
  if (ch < classes + num) return blocks.conf + cell * num + (ch - classes);
  return blocks.boxes + cell * 4 * num + (ch - classes - num);
}

/** inputs [features NHWC [N,S,S,F], connected-layer output [N, S²(C+5B)]] -> their sum with the shared head. */
export class SharedCellHead extends tf.layers.Layer {
  static className = 'SharedCellHead';
  readonly side: number;
  readonly classes: number;
  readonly num: number;
  readonly denseScale: number;
  private readonly seed: number;
  private kernel!: tf.LayerVariable;
  private bias!: tf.LayerVariable;

  constructor(args: SharedCellHeadArgs) {
    super({ name: args.name });
    this.side = args.side;
    this.classes = args.classes;
    this.num = args.num;
    this.seed = args.seed ?? 1;
    this.denseScale = args.denseScale ?? 1;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const feat = (inputShape as tf.Shape[])[0];
    const f = feat[3];
    if (feat.length !== 4 || f == null || feat[1] !== this.side || feat[2] !== this.side) {
      throw new Error(`SharedCellHead expects [N, ${this.side}, ${this.side}, F] features, got [${feat.join(',')}]`);
    }
    const ch = this.classes + 5 * this.num;
    this.kernel = this.addWeight('kernel', [f, ch], 'float32', tf.initializers.glorotUniform({ seed: this.seed }));
    this.bias = this.addWeight('bias', [ch], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return (inputShape as tf.Shape[])[1];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [feat, dense] = inputs as [tf.Tensor4D, tf.Tensor2D];
      const [n, , , f] = feat.shape;
      const S2 = this.side * this.side;
      const C = this.classes, B = this.num;
      const y = tf.add(tf.matMul(tf.reshape(feat, [n * S2, f]), this.kernel.read()), this.bias.read()).reshape([n, S2, C + 5 * B]);
      const part = (from: number, size: number) => tf.reshape(tf.slice(y, [0, 0, from], [n, S2, size]), [n, S2 * size]);
      return tf.add(this.denseScale === 1 ? dense : tf.mul(dense, this.denseScale), tf.concat([part(0, C), part(C, B), part(C + B, 4 * B)], 1));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), side: this.side, classes: this.classes, num: this.num, seed: this.seed, denseScale: this.denseScale };
  }
}
tf.serialization.registerClass(SharedCellHead);

export function sharedCellHead(args: SharedCellHeadArgs): SharedCellHead {
  return new SharedCellHead(args);
}

/**
 * The connected layer's kernel [S²F, D] and bias [D], times denseScale, with the shared head added in (flatten order of
 * NHWC features: cell-major, then feature).
 */
export function foldSharedCellHead(
  p: { side: number; classes: number; num: number; denseScale?: number },
  dense: { kernel: Float32Array; bias: Float32Array },
  shared: { kernel: Float32Array; bias: Float32Array },
): { kernel: Float32Array; bias: Float32Array } {
  const S2 = p.side * p.side;
  const ch = p.classes + 5 * p.num;
  const D = S2 * ch;
  const F = shared.kernel.length / ch;
  if (!Number.isInteger(F) || dense.kernel.length !== S2 * F * D || dense.bias.length !== D || shared.bias.length !== ch) {
    throw new Error(`foldSharedCellHead: shapes do not match (side ${p.side}, ${ch} channels per cell, ${F} features)`);
  }
  const k = p.denseScale ?? 1;
  const kernel = Float32Array.from(dense.kernel, (v) => v * k);
  const bias = Float32Array.from(dense.bias, (v) => v * k);
  for (let cell = 0; cell < S2; cell++) {
    for (let c = 0; c < ch; c++) {
      const o = detectionIndex(p.side, p.classes, p.num, cell, c);
      bias[o] += shared.bias[c];
      for (let f = 0; f < F; f++) kernel[(cell * F + f) * D + o] += shared.kernel[f * ch + c];
    }
  }
  return { kernel, bias };
}
