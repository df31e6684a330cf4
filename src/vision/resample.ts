// Point-sampled bilinear resampling with TensorFlow's legacy coordinates (resize_bilinear with
// align_corners=false, half_pixel_centers=false: source = destination * in/out, no antialiasing),
// straight from decoded 8-bit pixels into a normalised planar network input. Models trained and run
// through tf.image.resizeBilinear (face-api) see exactly these values; no libvips kernel produces them
// (its reducers antialias, and its affine transform extends edges with black and rounds to 8 bits).
// resampleBilinear runs the arithmetic in WebAssembly (resample.wat); resampleBilinearJs is the same in
// JavaScript, kept as the readable reference the WebAssembly is tested against bit for bit.
import { copyPlanes, kernelMemory, loadKernel, regions } from './resample-kernel.ts';

const f = Math.fround;

/** The source picture as the sampler sees it: the image placed on a larger canvas of one pad value. */
export interface SampleSource {
  /** interleaved 8-bit pixels, `channels` per pixel, rows of `width` */
  pixels: Uint8Array;
  width: number;
  height: number;
  channels: number;
  /** canvas the image sits on (>= the image), and the image's top-left corner in it */
  canvasW: number;
  canvasH: number;
  left: number;
  top: number;
  /** value of the canvas outside the image, in pixel units */
  padValue: number;
}

/** Where the samples go: a planar C*H*W input, a rectangle of it, and the per-channel normalisation. */
export interface SampleTarget {
  out: Float32Array;
  /** network input size (plane layout) */
  netW: number;
  netH: number;
  /** destination rectangle inside the input, the size the canvas is resized to */
  dx: number;
  dy: number;
  outW: number;
  outH: number;
  /** normalised = (value - mean[c]) / std[c] */
  mean: readonly number[];
  std: readonly number[];
}

/** Canvas coordinate `c` as an offset into the image's span [start, start + length), in `unit`s; -1 on the padding. */
function inImage(c: number, start: number, length: number, unit = 1): number {
  return c >= start && c < start + length ? (c - start) * unit : -1;
}

/** The source holds its pixels and the destination rectangle lies inside the network input. */
export function checkShapes(src: Pick<SampleSource, 'pixels' | 'width' | 'height' | 'channels'>, dst: SampleTarget): void {
  const { pixels, width, height, channels: C } = src;
  if (pixels.length < width * height * C) throw new RangeError(`resample: ${pixels.length} bytes for a ${width}x${height}x${C} image`);
  if (dst.dx + dst.outW > dst.netW || dst.dy + dst.outH > dst.netH) throw new RangeError('resample: destination outside the input');
}

/** For each destination coordinate: the two source coordinates and the weight of the second. */
function axis(outN: number, inN: number): { lo: Int32Array; hi: Int32Array; w: Float32Array } {
  const lo = new Int32Array(outN), hi = new Int32Array(outN), w = new Float32Array(outN);
  const scale = f(inN / outN);
  for (let i = 0; i < outN; i++) {
    const src = f(i * scale);
    const l = Math.floor(src);
    lo[i] = l;
    hi[i] = Math.min(inN - 1, Math.ceil(src));
    w[i] = f(src - l);
  }
  return { lo, hi, w };
}

/**
 * Resamples the canvas (image + padding) to outW x outH at (dx, dy) of the planar input, in float32
 * arithmetic in TensorFlow's order: top = tl + (tr - tl) * xw, bottom likewise, top + (bottom - top) * yw.
 */
export function resampleBilinearJs(src: SampleSource, dst: SampleTarget): void {
  const { pixels, width, height, channels: C, canvasW, canvasH, left, top } = src;
  checkShapes(src, dst);
  const xs = axis(dst.outW, canvasW), ys = axis(dst.outH, canvasH);
  const pad = f(src.padValue);
  const plane = dst.netW * dst.netH;
  // canvas column -> byte offset of that pixel in its row, or -1 for padding
  const colOff = (x: number) => inImage(x, left, width, C);
  const xlo = Int32Array.from(xs.lo, colOff), xhi = Int32Array.from(xs.hi, colOff);
  const rowOff = (y: number) => inImage(y, top, height, width * C);
  const mean = Float32Array.from({ length: C }, (_, c) => dst.mean[c]);
  const std = Float32Array.from({ length: C }, (_, c) => dst.std[c]);
  const out = dst.out;
  // one row of horizontally interpolated values per source row used, reused while consecutive
  // output rows share it (upscaling); a padding row is the pad value throughout
  const rowA = new Float32Array(dst.outW * C), rowB = new Float32Array(dst.outW * C);
  let rowAIs = -2, rowBIs = -2;
  // columns whose two taps are both image pixels: the branch-free stretch of every row
  let xa = 0;
  while (xa < dst.outW && (xlo[xa] < 0 || xhi[xa] < 0)) xa++;
  let xb = xa;
  while (xb < dst.outW && xlo[xb] >= 0 && xhi[xb] >= 0) xb++;
  const xw = xs.w;
  const horizontal = (r: number, buf: Float32Array) => {
    if (r < 0) {
      buf.fill(pad);
      return;
    }
    const edge = (x: number) => {
      const c0 = xlo[x], c1 = xhi[x];
      for (let c = 0; c < C; c++) {
        const l = c0 < 0 ? pad : pixels[r + c0 + c];
        const rr = c1 < 0 ? pad : pixels[r + c1 + c];
        buf[x * C + c] = f(l + f(f(rr - l) * xw[x]));
      }
    };
    for (let x = 0; x < xa; x++) edge(x);
    if (C === 3) {
      for (let x = xa, k = xa * 3; x < xb; x++, k += 3) {
        const p0 = r + xlo[x], p1 = r + xhi[x], w = xw[x];
        const l0 = pixels[p0], l1 = pixels[p0 + 1], l2 = pixels[p0 + 2];
        buf[k] = f(l0 + f(f(pixels[p1] - l0) * w));
        buf[k + 1] = f(l1 + f(f(pixels[p1 + 1] - l1) * w));
        buf[k + 2] = f(l2 + f(f(pixels[p1 + 2] - l2) * w));
      }
    } else {
      for (let x = xa; x < xb; x++) edge(x);
    }
    for (let x = xb; x < dst.outW; x++) edge(x);
  };
  for (let y = 0; y < dst.outH; y++) {
    const r0 = rowOff(ys.lo[y]), r1 = rowOff(ys.hi[y]);
    const ky0 = r0 < 0 ? -1 : ys.lo[y], ky1 = r1 < 0 ? -1 : ys.hi[y];
    // top row in rowA, bottom in rowB; the old bottom row is copied up when it is the new top
    if (rowAIs !== ky0) {
      if (rowBIs === ky0) rowA.set(rowB);
      else horizontal(r0, rowA);
      rowAIs = ky0;
    }
    if (rowBIs !== ky1) {
      if (ky1 === ky0) rowB.set(rowA);
      else horizontal(r1, rowB);
      rowBIs = ky1;
    }
    const yw = ys.w[y];
    const o = (y + dst.dy) * dst.netW + dst.dx;
    for (let c = 0; c < C; c++) {
      const m = mean[c], sd = std[c], base = c * plane + o;
      for (let x = 0, k = c; x < dst.outW; x++, k += C) {
        const t = rowA[k];
        const v = f(t + f(f(rowB[k] - t) * yw));
        out[base + x] = f(f(v - m) / sd);
      }
    }
  }
}

/** Byte offsets of the kernel's tables, rows and output picture in its memory, 16-aligned for its 4-wide loads. */
function layout(outW: number, outH: number, C: number, rowBytes: number) {
  const r = regions();
  const lo = r.take(outW * 4), hi = r.take(outW * 4), w = r.take(outW * 4), mean = r.take(C * 4), std = r.take(C * 4);
  // four bytes past the row: the kernel loads a pixel's three bytes as four
  const rows = [r.take(C * outW * 4), r.take(C * outW * 4)], out = r.take(C * outW * outH * 4), src = r.take(rowBytes + 4);
  return { lo, hi, w, mean, std, rows, out, src, bytes: r.end };
}

/**
 * Resamples the canvas (image + padding) to outW x outH at (dx, dy) of the planar input, in float32
 * arithmetic in TensorFlow's order: top = tl + (tr - tl) * xw, bottom likewise, top + (bottom - top) * yw;
 * bit for bit resampleBilinearJs. One source row at a time is copied into the kernel's memory.
 */
export function resampleBilinear(src: SampleSource, dst: SampleTarget): void {
  const { pixels, width, height, channels: C, canvasW, canvasH, left, top } = src;
  checkShapes(src, dst);
  const k = loadKernel();
  const { outW, outH } = dst;
  const rowBytes = width * C;
  const m = layout(outW, outH, C, rowBytes);
  const mem = kernelMemory(k, m.bytes);
  const u8 = new Uint8Array(mem), i32 = new Int32Array(mem), f32 = new Float32Array(mem);
  const xs = axis(outW, canvasW), ys = axis(outH, canvasH);
  for (let x = 0; x < outW; x++) {
    i32[m.lo / 4 + x] = inImage(xs.lo[x], left, width, C);
    i32[m.hi / 4 + x] = inImage(xs.hi[x], left, width, C);
  }
  f32.set(xs.w, m.w / 4);
  for (let c = 0; c < C; c++) { f32[m.mean / 4 + c] = dst.mean[c]; f32[m.std / 4 + c] = dst.std[c]; }
  const pad = f(src.padValue);
  // source row of a canvas row, -1 for padding; the two row buffers are swapped, not copied, when the
  // old bottom row becomes the new top (upscaling reuses rows)
  const imageRow = (y: number) => inImage(y, top, height);
  const fill = (row: number, ptr: number) => {
    if (row >= 0) u8.set(pixels.subarray(row * rowBytes, (row + 1) * rowBytes), m.src);
    k.horizontal(row >= 0 ? m.src : -1, ptr, outW, C, m.lo, m.hi, m.w, pad);
  };
  let [topPtr, botPtr] = m.rows;
  let topIs = -2, botIs = -2;
  for (let y = 0; y < outH; y++) {
    const r0 = imageRow(ys.lo[y]), r1 = imageRow(ys.hi[y]);
    if (topIs !== r0) {
      if (botIs === r0) { [topPtr, botPtr] = [botPtr, topPtr]; [topIs, botIs] = [botIs, topIs]; }
      else { fill(r0, topPtr); topIs = r0; }
    }
    if (botIs !== r1) {
      if (r1 === r0) u8.copyWithin(botPtr, topPtr, topPtr + C * outW * 4);
      else fill(r1, botPtr);
      botIs = r1;
    }
    k.vertical(topPtr, botPtr, m.out + y * outW * 4, outW, C, ys.w[y], m.mean, m.std, outW * outH * 4);
  }
  copyPlanes(f32, m.out / 4, C, dst);
}
