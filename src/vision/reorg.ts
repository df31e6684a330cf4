// Darknet's passthrough "reorg" layer (YOLOv2), with darknet's own element order.
//
// Darknet's forward reorg (reorg_cpu with forward=0, layer dims = INPUT dims w,h,c, stride s) writes
//   out[i + w*(j + h*(k + c*b))] = in[w2 + w*s*(h2 + h*s*(c2 + (c/s²)*b))]
//   with c2 = k % (c/s²), off = k / (c/s²), w2 = i*s + off % s, h2 = j*s + off / s,
// and the result is read as a (c*s², h/s, w/s) tensor. That is NOT TF's space-to-depth: per image, the
// CHW input buffer is reinterpreted as [c/s², h, s, w, s] (axes c2, j, dy, i, dx), permuted to
// [s, s, c/s², h, w] (dy, dx, c2, j, i) and the buffer re-read as [c*s², h/s, w/s].
// reorgPermutation() is that mapping on flat CHW indices; the tfjs layer (src/train/layers/reorg.ts)
// computes it on NHWC tensors (so the trained model equals darknet's), and the ONNX exporter
// (src/onnx/tfjs) emits the same reshape/transpose: both read the plan from here, the floor they share.

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
