// Pre-NMS detections of one image in struct-of-arrays form. One ENTRY per (box, class) whose
// probability survived the threshold: darknet keeps a dense prob[classes] per box, but all its later
// steps only look at nonzero entries, so a sparse list gives the same result and stays small for
// 9418 classes.

export interface Candidates {
  count: number;
  /** cx, cy, w, h per entry, relative to the ORIGINAL image (letterbox undone) */
  box: Float32Array;
  cls: Int32Array;
  prob: Float32Array;
  /** darknet's detection index of the box (region: n*H*W + cell, detection: cell*B + n): stable tie order */
  det: Int32Array;
}

export function emptyCandidates(capacity = 64): Candidates {
  const c = Math.max(1, capacity);
  return { count: 0, box: new Float32Array(c * 4), cls: new Int32Array(c), prob: new Float32Array(c), det: new Int32Array(c) };
}

function grow(c: Candidates): void {
  const cap = c.cls.length * 2;
  const box = new Float32Array(cap * 4);
  box.set(c.box);
  const cls = new Int32Array(cap);
  cls.set(c.cls);
  const prob = new Float32Array(cap);
  prob.set(c.prob);
  const det = new Int32Array(cap);
  det.set(c.det);
  c.box = box;
  c.cls = cls;
  c.prob = prob;
  c.det = det;
}

/** Appends one entry; amortised O(1), no allocation unless the arrays must double. */
export function pushCandidate(c: Candidates, cx: number, cy: number, w: number, h: number, cls: number, prob: number, det: number): void {
  if (c.count === c.cls.length) grow(c);
  const i = c.count++;
  const b = i * 4;
  c.box[b] = cx;
  c.box[b + 1] = cy;
  c.box[b + 2] = w;
  c.box[b + 3] = h;
  c.cls[i] = cls;
  c.prob[i] = prob;
  c.det[i] = det;
}
