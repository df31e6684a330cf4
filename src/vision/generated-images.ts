// Generator outputs -> 8-bit RGB images and grids of them: pure typed-array work shared by the
// generate route (src/runtime) and the trainers' sample previews (src/train).
import { PinholeError } from '../errors.ts';

/** A float tensor as ONNX Runtime and tfjs hand it over (the structural part toRgb reads). */
export interface ImageTensor {
  type: string;
  dims: readonly number[];
  data: unknown;
}

/** Generator output (NCHW floats in [-1, 1], tanh) -> 8-bit RGB images, HWC. */
export function toRgb(t: ImageTensor): { width: number; height: number; images: Uint8Array[] } {
  if (t.type !== 'float32' || t.dims.length !== 4 || t.dims[1] !== 3) {
    throw new PinholeError('internal', `generator output must be float32 [N, 3, H, W], got ${t.type} [${t.dims.join(', ')}]`);
  }
  const [n, , h, w] = t.dims;
  const data = t.data as Float32Array;
  const plane = h * w;
  const images: Uint8Array[] = [];
  for (let k = 0; k < n; k++) {
    const rgb = new Uint8Array(plane * 3);
    const base = k * 3 * plane;
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < plane; p++) {
        const v = (data[base + c * plane + p] + 1) * 127.5;
        rgb[p * 3 + c] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
      }
    }
    images.push(rgb);
  }
  return { width: w, height: h, images };
}

/** Images side by side in a grid of ceil(sqrt(n)) columns with a 2-pixel white gutter. */
export function tile(images: Uint8Array[], width: number, height: number, gap = 2): { rgb: Uint8Array; width: number; height: number } {
  const n = images.length;
  if (n === 1) return { rgb: images[0], width, height };
  const cols = Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const W = cols * width + (cols - 1) * gap;
  const H = rows * height + (rows - 1) * gap;
  const out = new Uint8Array(W * H * 3).fill(255);
  images.forEach((img, k) => {
    const x0 = (k % cols) * (width + gap);
    const y0 = Math.floor(k / cols) * (height + gap);
    for (let y = 0; y < height; y++) out.set(img.subarray(y * width * 3, (y + 1) * width * 3), ((y0 + y) * W + x0) * 3);
  });
  return { rgb: out, width: W, height: H };
}
