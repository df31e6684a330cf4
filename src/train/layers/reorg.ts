// The tfjs layer of darknet's passthrough "reorg" (YOLOv2); its element order is planned in
// src/vision/reorg.ts, shared with the ONNX exporter.
import { tf } from '../backend.ts';
import { reorgNchwPlan } from '../../vision/reorg.ts';

export interface ReorgArgs {
  stride?: number;
  name?: string;
  trainable?: boolean;
  inputShape?: number[];
  batchInputShape?: (number | null)[];
}

/** NHWC tfjs layer computing darknet's reorg; output [N, H/s, W/s, C*s²]. */
export class Reorg extends tf.layers.Layer {
  static className = 'Reorg';
  readonly stride: number;

  constructor(args: ReorgArgs = {}) {
    super(args);
    this.stride = args.stride ?? 2;
    if (!Number.isInteger(this.stride) || this.stride < 1) throw new Error(`Reorg: stride must be a positive integer, got ${args.stride}`);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shp = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    if (shp.length !== 4) throw new Error(`Reorg expects a 4-D NHWC input, got shape [${shp.join(',')}]`);
    const [n, h, w, c] = shp;
    const s = this.stride;
    if (h != null && w != null && c != null) reorgNchwPlan(c, h, w, s);
    return [n, h == null ? null : h / s, w == null ? null : w / s, c == null ? null : c * s * s];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const [n, h, w, c] = x.shape;
      const plan = reorgNchwPlan(c, h, w, this.stride);
      const nchw = tf.transpose(x, [0, 3, 1, 2]);
      const v = tf.reshape(nchw, [n, ...plan.view]);
      const p = tf.transpose(v, [0, ...plan.perm.map((a) => a + 1)]);
      const o = tf.reshape(p, [n, ...plan.out]);
      return tf.transpose(o, [0, 2, 3, 1]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), stride: this.stride };
  }
}
tf.serialization.registerClass(Reorg);

export function reorg(args: ReorgArgs = {}): Reorg {
  return new Reorg(args);
}
