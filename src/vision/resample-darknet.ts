// darknet's own resize_image (image.c), the resampling every darknet detector's input goes through
// (letterbox_image and resize_image on the float picture load_image_color made: pixel / 255, planar):
// a two-pass, corner-aligned bilinear in float32. First each source row is resampled horizontally,
// scale (in.w - 1) / (out.w - 1), the last output column a copy of the source's last; then the rows
// vertically, the last output row only (1 - dy) * row[iy], with no second term (darknet's quirk: when
// (h - 1) * scale rounds below in.h - 1 that row is darkened, and darknet's input has it so).
// Each weight times value and the sum are rounded to float32, no fused multiply-add: Debian's amd64
// libdarknet is scalar SSE code (mulss, addss), reassociated as fast-math allows to (1 - sy) + iy for
// 1 - dy, which is the same float (dy = sy - iy is exact); test/darknet-input checks our network input
// against libdarknet's, value for value.
//
// resampleDarknetJs transcribes the C; resampleDarknet runs the same float32 operations in WebAssembly
// (resample.wat), bit for bit the same (test/resample-darknet). Unlike darknet it resamples only the
// source rows the vertical pass reads (at most two per output row), so its cost follows the output
// and the source's width, not the source's height.
import { copyPlanes, kernelMemory, loadKernel, regions } from './resample-kernel.ts';
import { checkShapes as checkBounds, type SampleTarget } from './resample.ts';

const f = Math.fround;

/** A decoded picture: interleaved 8-bit pixels, `channels` per pixel, rows of `width`. */
export interface PixelSource {
  pixels: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

function checkShapes(src: PixelSource, dst: SampleTarget): void {
  if (!(src.width >= 1 && src.height >= 1 && dst.outW >= 1 && dst.outH >= 1)) throw new RangeError('resample: empty picture');
  checkBounds(src, dst);
  if (dst.out.length < src.channels * dst.netW * dst.netH) throw new RangeError('resample: output shorter than the input it holds');
}

/** darknet's `(float)(in - 1) / (out - 1)`: ints to float, one float32 division. */
const scaleOf = (inN: number, outN: number) => f((inN - 1) / (outN - 1));

/**
 * Per output row: the source row iy, the weights (1 - dy) and dy, and whether darknet adds the second
 * term (not on its last row, nor for a one-row source). An output of one row: darknet divides by zero
 * there and reads row (int)NaN (its assert aborts); here it is source row 0, weight 1.
 */
export function darknetRows(outH: number, inH: number): { iy: Int32Array; w0: Float32Array; w1: Float32Array; single: Uint8Array } {
  const iy = new Int32Array(outH), w0 = new Float32Array(outH), w1 = new Float32Array(outH), single = new Uint8Array(outH);
  const scale = outH > 1 ? scaleOf(inH, outH) : 0;
  for (let y = 0; y < outH; y++) {
    const sy = f(y * scale);
    // sy < in.h - 1 below the last row for any size under 2^23; the clamps keep a bad size in bounds
    let r = Math.min(Math.trunc(sy), inH - 1);
    const one = y === outH - 1 || inH === 1;
    if (!one) r = Math.min(r, inH - 2);
    const dy = f(sy - r);
    iy[y] = r;
    w0[y] = f(1 - dy);
    w1[y] = dy;
    single[y] = one ? 1 : 0;
  }
  return { iy, w0, w1, single };
}

/** Normalised value of 8-bit `v` in channel c: (v - mean) / std in float32 (darknet: v / 255). */
function normaliser(dst: SampleTarget, C: number): (v: number, c: number) => number {
  const mean = Float32Array.from({ length: C }, (_, c) => dst.mean[c]), std = Float32Array.from({ length: C }, (_, c) => dst.std[c]);
  return (v, c) => f(f(v - mean[c]) / std[c]);
}

/**
 * darknet's resize_image of the normalised picture to outW x outH at (dx, dy) of the planar input:
 * image.c's two loops as written there, the horizontal pass on the rows the vertical one reads.
 */
export function resampleDarknetJs(src: PixelSource, dst: SampleTarget): void {
  checkShapes(src, dst);
  const { pixels, width: W, height: H, channels: C } = src;
  const { outW: w, outH: h } = dst;
  const norm = normaliser(dst, C);
  const wScale = w > 1 ? scaleOf(W, w) : 0;
  // part row r: channel c of output column x at [c * w + x]
  const part = (r: number): Float32Array => {
    const row = new Float32Array(C * w);
    const px = (x: number, c: number) => norm(pixels[(r * W + x) * C + c], c);
    for (let c = 0; c < C; c++) {
      for (let x = 0; x < w; x++) {
        if (x === w - 1 || W === 1) {
          row[c * w + x] = px(W - 1, c);
        } else {
          const sx = f(x * wScale);
          const ix = Math.trunc(sx);
          const d = f(sx - ix);
          row[c * w + x] = f(f(f(1 - d) * px(ix, c)) + f(d * px(ix + 1, c)));
        }
      }
    }
    return row;
  };
  const rows = darknetRows(h, H);
  const cache = new Map<number, Float32Array>();
  const get = (r: number) => {
    let p = cache.get(r);
    if (!p) {
      p = part(r);
      cache.set(r, p);
      for (const k of cache.keys()) if (k < r - 1) cache.delete(k);
    }
    return p;
  };
  const plane = dst.netW * dst.netH;
  for (let y = 0; y < h; y++) {
    const top = get(rows.iy[y]);
    const bottom = rows.single[y] ? undefined : get(rows.iy[y] + 1);
    const a = rows.w0[y], b = rows.w1[y];
    for (let c = 0; c < C; c++) {
      const o = c * plane + (y + dst.dy) * dst.netW + dst.dx;
      for (let x = 0; x < w; x++) {
        const v = f(a * top[c * w + x]);
        dst.out[o + x] = bottom ? f(v + f(b * bottom[c * w + x])) : v;
      }
    }
  }
}

/**
 * The horizontal taps as the kernel takes them: per output column the byte offset of its first source
 * pixel in a normalised row and the two weights. darknet's copied last column is 0 x the pixel before
 * the last + 1 x the last (the same float: x + 0 = x); a one-column source is 1 x its pixel + 0 x the
 * row's slack after it.
 */
function columnTaps(w: number, W: number, C: number): { off: Int32Array; w0: Float32Array; w1: Float32Array } {
  const off = new Int32Array(w), w0 = new Float32Array(w), w1 = new Float32Array(w);
  const scale = w > 1 ? scaleOf(W, w) : 0;
  for (let x = 0; x < w; x++) {
    let ix: number, a: number, b: number;
    if (W === 1) [ix, a, b] = [0, 1, 0];
    else if (x === w - 1) [ix, a, b] = [W - 2, 0, 1];
    else {
      const sx = f(x * scale);
      ix = Math.min(Math.trunc(sx), W - 2);
      b = f(sx - ix);
      a = f(1 - b);
    }
    off[x] = ix * C * 4;
    w0[x] = a;
    w1[x] = b;
  }
  return { off, w0, w1 };
}

/** Byte offsets in the kernel's memory: tables, the channel pattern, a source row, its floats, two part rows, the output picture. */
function layout(w: number, h: number, W: number, C: number) {
  const r = regions();
  const off = r.take(w * 4), w0 = r.take(w * 4), w1 = r.take(w * 4), pat = r.take(96);
  // slack: the normaliser reads 16 bytes and writes 12 floats a step, the horizontal pass reads a vector
  // past the last pixel and writes one past the last column
  const src = r.take(W * C + 16), norm = r.take((W * C + 12) * 4 + 16);
  const parts = [r.take(w * C * 4 + 16), r.take(w * C * 4 + 16)];
  const out = r.take(C * w * h * 4);
  return { off, w0, w1, pat, src, norm, parts, out, bytes: r.end };
}

/**
 * darknet's resize_image of the normalised picture to outW x outH at (dx, dy) of the planar input, in
 * WebAssembly: bit for bit resampleDarknetJs. Source rows are copied into the kernel's memory one at a
 * time, as the vertical pass needs them; the output picture is copied out a plane at a time.
 */
export function resampleDarknet(src: PixelSource, dst: SampleTarget): void {
  checkShapes(src, dst);
  const { width: W, height: H, channels: C } = src;
  // a plain view: a Node Buffer's subarray (one a row) builds a Buffer each time
  const pixels = new Uint8Array(src.pixels.buffer, src.pixels.byteOffset, src.pixels.length);
  const { outW: w, outH: h } = dst;
  if (12 % C !== 0) throw new RangeError(`resample: ${C} channels`);
  const k = loadKernel();
  const m = layout(w, h, W, C);
  const mem = kernelMemory(k, m.bytes);
  const u8 = new Uint8Array(mem), i32 = new Int32Array(mem), f32 = new Float32Array(mem);
  const cols = columnTaps(w, W, C);
  i32.set(cols.off, m.off / 4);
  f32.set(cols.w0, m.w0 / 4);
  f32.set(cols.w1, m.w1 / 4);
  for (let i = 0; i < 12; i++) {
    f32[m.pat / 4 + i] = dst.mean[i % C];
    f32[m.pat / 4 + 12 + i] = dst.std[i % C];
  }
  const rowBytes = W * C;
  const slots = m.parts.map((ptr) => ({ ptr, row: -1 }));
  // the part row of source row r in a slot, computed unless a slot holds it; rows only go down the
  // picture, so the slot given up is the one holding the row nearer the top (never `keep`, the other row in use)
  const part = (r: number, keep?: { row: number }) => {
    const have = slots.find((s) => s.row === r);
    if (have) return have;
    const s = keep === slots[0] ? slots[1] : keep === slots[1] ? slots[0] : slots[0].row <= slots[1].row ? slots[0] : slots[1];
    u8.set(pixels.subarray(r * rowBytes, (r + 1) * rowBytes), m.src);
    k.dk_normalise(m.src, m.norm, rowBytes, m.pat);
    k.dk_horizontal(m.norm, s.ptr, w, C, m.off, m.w0, m.w1);
    s.row = r;
    return s;
  };
  const rows = darknetRows(h, H);
  const ostride = w * h * 4;
  for (let y = 0; y < h; y++) {
    const top = part(rows.iy[y]);
    const bottom = rows.single[y] ? top : part(rows.iy[y] + 1, top);
    k.dk_vertical(top.ptr, bottom.ptr, m.out + y * w * 4, w, C, rows.w0[y], rows.w1[y], rows.single[y], ostride);
  }
  copyPlanes(f32, m.out / 4, C, dst);
}
