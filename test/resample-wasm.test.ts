// The WebAssembly resampler is the JavaScript reference bit for bit (and tf.image's, which
// pixel-options.test.ts checks against tfjs itself), on every shape the preprocessing can ask for:
// down and up, padding on any side, grey and colour, widths that are not a multiple of the SIMD width,
// a paste inside a larger input. And the module shipped in resample-wasm.ts is resample.wat compiled.
import { describe, expect, it } from 'vitest';
import { resampleBilinear, resampleBilinearJs, type SampleSource, type SampleTarget } from '../src/vision/resample.ts';
import { KERNELS, generated } from '../scripts/build-wasm.ts';
import { readFileSync } from 'node:fs';

let seed = 11;
const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) >>> 0) % n;

function both(src: SampleSource, t: Omit<SampleTarget, 'out'>): [Float32Array, Float32Array] {
  const a = new Float32Array(src.channels * t.netW * t.netH).fill(-7), b = a.slice();
  resampleBilinearJs(src, { ...t, out: a });
  resampleBilinear(src, { ...t, out: b });
  return [a, b];
}

function firstDifference(a: Float32Array, b: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

describe('WebAssembly bilinear-tf resampler', () => {
  it('equals the JavaScript reference bit for bit on 60 random shapes', () => {
    for (let k = 0; k < 60; k++) {
      const C = k % 5 === 4 ? 1 : 3;
      const width = 1 + rnd(90), height = 1 + rnd(70);
      const canvasW = width + (k % 3 === 0 ? 0 : rnd(40)), canvasH = height + (k % 2 === 0 ? 0 : rnd(40));
      const left = rnd(canvasW - width + 1), top = rnd(canvasH - height + 1);
      const pixels = Uint8Array.from({ length: width * height * C }, () => rnd(256));
      const outW = 1 + rnd(130), outH = 1 + rnd(100);
      const dx = rnd(5), dy = rnd(5);
      const t = { netW: outW + dx + rnd(3), netH: outH + dy + rnd(3), dx, dy, outW, outH,
        mean: [rnd(200) + 0.001 * rnd(1000), 114.697, 97.404].slice(0, C), std: [256, 1 + rnd(300), 58.4].slice(0, C) };
      const [a, b] = both({ pixels, width, height, channels: C, canvasW, canvasH, left, top, padValue: rnd(256) }, t);
      const at = firstDifference(a, b);
      expect(at, `case ${k}: ${width}x${height}x${C} on ${canvasW}x${canvasH} at (${left},${top}) -> ${outW}x${outH}: sample ${at} ${a[at]} vs ${b[at]}`).toBe(-1);
    }
  });

  it('a 720x528 video frame padded to 720x720 and sampled to 416 (face-api\'s path), and a huge row', () => {
    const frame = Uint8Array.from({ length: 720 * 528 * 3 }, (_, i) => (i * 2654435761) >>> 24);
    const [a, b] = both({ pixels: frame, width: 720, height: 528, channels: 3, canvasW: 720, canvasH: 720, left: 0, top: 96, padValue: 0 },
      { netW: 416, netH: 416, dx: 0, dy: 0, outW: 416, outH: 416, mean: [117.001, 114.697, 97.404], std: [256, 256, 256] });
    expect(firstDifference(a, b)).toBe(-1);
    // a row wider than the kernel's first memory page: its memory grows
    const wide = Uint8Array.from({ length: 30000 * 2 * 3 }, (_, i) => i % 251);
    const [c, d] = both({ pixels: wide, width: 30000, height: 2, channels: 3, canvasW: 30000, canvasH: 30000, left: 0, top: 14999, padValue: 9 },
      { netW: 64, netH: 64, dx: 0, dy: 0, outW: 64, outH: 64, mean: [0, 0, 0], std: [1, 1, 1] });
    expect(firstDifference(c, d)).toBe(-1);
    expect(new Set(d).size).toBeGreaterThan(2);
  });

  it('refuses a pixel buffer shorter than its shape, like the reference', () => {
    const src = { pixels: new Uint8Array(10), width: 4, height: 4, channels: 3, canvasW: 4, canvasH: 4, left: 0, top: 0, padValue: 0 };
    const t = { out: new Float32Array(48), netW: 4, netH: 4, dx: 0, dy: 0, outW: 4, outH: 4, mean: [0, 0, 0], std: [1, 1, 1] };
    expect(() => resampleBilinear(src, t)).toThrow(/10 bytes for a 4x4x3 image/);
  });

  it('the embedded module is resample.wat compiled (npm run build:wasm)', async () => {
    for (const k of KERNELS) expect(readFileSync(k.ts, 'utf8')).toBe(await generated(k));
  });
});
