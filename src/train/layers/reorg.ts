// Darknet's passthrough "reorg" layer (YOLOv2), with darknet's own element order.
//
// Darknet's forward reorg (reorg_cpu with forward=0, layer dims = INPUT dims w,h,c, stride s) writes
//   out[i + w*(j + h*(k + c*b))] = in[w2 + w*s*(h2 + h*s*(c2 + (c/s²)*b))]
//   with c2 = k % (c/s²), off = k / (c/s²), w2 = i*s + off % s, h2 = j*s + off / s,
// and the result is read as a (c*s², h/s, w/s) tensor. That is NOT TF's space-to-depth: per image, the
// CHW input buffer is reinterpreted as [c/s², h, s, w, s] (axes c2, j, dy, i, dx), permuted to
// [s, s, c/s², h, w] (dy, dx, c2, j, i) and the buffer re-read as [c*s², h/s, w/s].
// reorgPermutation() is that mapping on flat CHW indices; the tfjs layer computes it on NHWC tensors
// (so the trained model equals darknet's), and the ONNX exporter emits the same reshape/transpose.
import { tf } from '../backend.ts';

/** The 6-D view and permutation, on NCHW buffers, that implement darknet's reorg. */
export function reorgNchwPlan(c: number, h: number, w: number, s: number): {
  view: [number, number, number, number, number];
  perm: number[];
  out: [number, number, number];
} {
  if (c % (s * s) !== 0 || h % s !== 0 || w % s !== 0) {
    throw new Error(`Reorg(stride ${s}) needs channels divisible by ${s * s} and height/width divisible by ${s}; got c=${c} h=${h} w=${w}`);
  }
  return {
    // per image: [c2, j, dy, i, dx]; a batch axis goes in front
    view: [c / (s * s), h, s, w, s],
    perm: [2, 4, 0, 1, 3],
    out: [c * s * s, h / s, w / s],
  };
}

/** Source index (flat CHW input) of every flat CHW output element, straight from darknet's formula. */
export function reorgPermutation(c: number, h: number, w: number, s: number): Int32Array {
  reorgNchwPlan(c, h, w, s); // validates
  const outC = c / (s * s);
  const src = new Int32Array(c * h * w);
  for (let k = 0; k < c; k++) {
    for (let j = 0; j < h; j++) {
      for (let i = 0; i < w; i++) {
        const c2 = k % outC;
        const off = Math.floor(k / outC);
        const w2 = i * s + (off % s);
        const h2 = j * s + Math.floor(off / s);
        src[i + w * (j + h * k)] = w2 + w * s * (h2 + h * s * c2);
      }
    }
  }
  return src;
}

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
