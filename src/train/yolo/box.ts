// Centre-form boxes (x, y = centre; w, h = size), all in the same unit (image fraction or grid cells).
// The IoU here is darknet's box_iou: the losses select responsible predictors with it.

export interface CBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

function overlap(c1: number, w1: number, c2: number, w2: number): number {
  const lo = Math.max(c1 - w1 / 2, c2 - w2 / 2);
  const hi = Math.min(c1 + w1 / 2, c2 + w2 / 2);
  return hi - lo;
}

export function boxIntersection(a: CBox, b: CBox): number {
  const w = overlap(a.x, a.w, b.x, b.w);
  const h = overlap(a.y, a.h, b.y, b.h);
  return w < 0 || h < 0 ? 0 : w * h;
}

export function boxIou(a: CBox, b: CBox): number {
  const i = boxIntersection(a, b);
  const u = a.w * a.h + b.w * b.h - i;
  return u <= 0 ? 0 : i / u;
}

/** IoU of two boxes that share their centre: the k-means distance and darknet's anchor matching. */
export function shapeIou(w1: number, h1: number, w2: number, h2: number): number {
  const i = Math.min(w1, w2) * Math.min(h1, h2);
  const u = w1 * h1 + w2 * h2 - i;
  return u <= 0 ? 0 : i / u;
}

/** darknet's box_rmse: breaks ties between predictors that overlap nothing. */
export function boxRmse(a: CBox, b: CBox): number {
  return Math.sqrt((a.x - b.x) ** 2 + (a.y - b.y) ** 2 + (a.w - b.w) ** 2 + (a.h - b.h) ** 2);
}
