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

/**
 * Source bytes a call of the kernel takes at most: the picture goes in windows of rows, each normalised
 * while its bytes are still in the core's cache (the whole picture at once, 3.7 MB for 1280x960, cost
 * 8% more CPU than one row at a time; windows of 32-128 kB 1-12% less, bench/dk-loop.ts).
 */
const WINDOW_BYTES = 128 << 10;

type Rows = ReturnType<typeof darknetRows>;

/**
 * The taps of one geometry as they lie in the kernel's memory (bytes; cols and iy: offsets in it): per
 * output column 16 bytes, its source pixel's byte offset, w0, w1 (columnTaps), then per output row 16
 * bytes: iy, w0, w1, single (darknetRows).
 */
interface Taps { rows: Rows; bytes: Uint8Array; cols: number; iy: number }

function tapsOf(w: number, h: number, W: number, H: number, C: number): Taps {
  const r = regions();
  const colAt = r.take(w * 16), iy = r.take(h * 16);
  const buf = new ArrayBuffer(r.end), i32 = new Int32Array(buf), f32 = new Float32Array(buf);
  const cols = columnTaps(w, W, C), rows = darknetRows(h, H);
  for (let x = 0, e = colAt / 4; x < w; x++, e += 4) {
    i32[e] = cols.off[x];
    f32[e + 1] = cols.w0[x];
    f32[e + 2] = cols.w1[x];
  }
  for (let y = 0, e = iy / 4; y < h; y++, e += 4) {
    i32[e] = rows.iy[y];
    f32[e + 1] = rows.w0[y];
    f32[e + 2] = rows.w1[y];
    i32[e + 3] = rows.single[y];
  }
  return { rows, bytes: new Uint8Array(buf), cols: colAt, iy };
}

// a stream's frames share one geometry: its taps are worked out once (a few geometries kept)
const tapsCache = new Map<string, Taps>();
function cachedTaps(w: number, h: number, W: number, H: number, C: number): Taps {
  const key = `${w} ${h} ${W} ${H} ${C}`;
  let t = tapsCache.get(key);
  if (!t) {
    t = tapsOf(w, h, W, H, C);
    if (tapsCache.size >= 8) tapsCache.delete(tapsCache.keys().next().value!);
    tapsCache.set(key, t);
  }
  return t;
}

/**
 * Byte offsets in the kernel's memory: the job block dk_resize reads (resample.wat), the taps, the channel
 * pattern, the source window, its normalised row, two part rows, the output picture.
 */
function layout(w: number, h: number, windowRows: number, rowBytes: number, C: number, tapBytes: number) {
  const r = regions();
  const job = r.take(15 * 4), taps = r.take(tapBytes), pat = r.take(96);
  // slack: the normaliser reads 16 bytes and writes 12 floats a step, the horizontal pass reads a vector
  // past the last pixel and writes one past the last column
  const src = r.take(windowRows * rowBytes + 16), norm = r.take((rowBytes + 12) * 4 + 16);
  const parts = [r.take(w * C * 4 + 16), r.take(w * C * 4 + 16)];
  const out = r.take(C * w * h * 4);
  return { job, taps, pat, src, norm, parts, out, bytes: r.end };
}

/** What dk_resize reads besides the pixels: the job block, the taps, the normaliser's channel pattern. */
function writeTables(mem: ArrayBuffer, m: ReturnType<typeof layout>, t: Taps, rowBytes: number, C: number, dst: SampleTarget): void {
  const i32 = new Int32Array(mem), f32 = new Float32Array(mem);
  const { outW: w, outH: h } = dst;
  i32.set([m.src, rowBytes, 0, m.norm, m.pat, m.parts[0], m.parts[1], -1, -1, w, C,
    m.taps + t.cols, m.taps + t.iy, m.out, w * h * 4], m.job / 4);
  new Uint8Array(mem).set(t.bytes, m.taps);
  for (let i = 0; i < 12; i++) {
    f32[m.pat / 4 + i] = dst.mean[i % C];
    f32[m.pat / 4 + 12 + i] = dst.std[i % C];
  }
}

/**
 * Copies into the window the source rows r0 .. r1 - 1 that output rows y0 .. y1 - 1 read, as runs of
 * consecutive rows: one copy a window for a picture reduced less than 2x, none of the rows a strong
 * reduction skips.
 */
function copyRows(u8: Uint8Array, at: number, pixels: Uint8Array, rowBytes: number, rows: Rows, r0: number, y0: number, y1: number): void {
  let from = -1, to = -1;
  const flush = () => { if (to > from) u8.set(pixels.subarray(from * rowBytes, to * rowBytes), at + (from - r0) * rowBytes); };
  for (let y = y0; y < y1; y++) {
    const a = Math.max(rows.iy[y], to), b = rows.iy[y] + (rows.single[y] ? 1 : 2);
    if (b <= a) continue;
    if (a > to) { flush(); from = a; }
    to = b;
  }
  flush();
}

/**
 * darknet's resize_image of the normalised picture to outW x outH at (dx, dy) of the planar input, in
 * WebAssembly: bit for bit resampleDarknetJs. The kernel runs the whole row loop (dk_resize) on windows
 * of source rows copied into its memory (`windowBytes` each: tests take small ones); the output picture
 * is copied out a plane at a time.
 */
export function resampleDarknet(src: PixelSource, dst: SampleTarget, windowBytes = WINDOW_BYTES): void {
  checkShapes(src, dst);
  const { width: W, height: H, channels: C } = src;
  if (12 % C !== 0) throw new RangeError(`resample: ${C} channels`);
  // a plain view: a Node Buffer's subarray builds a Buffer each time
  const pixels = new Uint8Array(src.pixels.buffer, src.pixels.byteOffset, src.pixels.length);
  const { outW: w, outH: h } = dst;
  const rowBytes = W * C;
  // at least the two rows one output row reads
  const windowRows = Math.min(H, Math.max(2, Math.floor(windowBytes / rowBytes)));
  const k = loadKernel();
  const taps = cachedTaps(w, h, W, H, C), rows = taps.rows;
  const m = layout(w, h, windowRows, rowBytes, C, taps.bytes.length);
  const mem = kernelMemory(k, m.bytes);
  writeTables(mem, m, taps, rowBytes, C, dst);
  const u8 = new Uint8Array(mem), i32 = new Int32Array(mem);
  // each call: the output rows whose source rows all lie in the window starting at the first one's top row
  for (let y0 = 0; y0 < h;) {
    const r0 = rows.iy[y0], r1 = Math.min(H, r0 + windowRows);
    let y1 = y0;
    while (y1 < h && rows.iy[y1] + (rows.single[y1] ? 0 : 1) < r1) y1++;
    copyRows(u8, m.src, pixels, rowBytes, rows, r0, y0, y1);
    i32[m.job / 4 + 2] = r0;
    k.dk_resize(m.job, y0, y1);
    y0 = y1;
  }
  copyPlanes(new Float32Array(mem), m.out / 4, C, dst);
}
