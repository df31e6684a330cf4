// The WebAssembly module of resample.wat, instantiated once: its memory and the exports the samplers
// drive (TensorFlow's bilinear in resample.ts, darknet's in resample-darknet.ts).
import { RESAMPLE_WASM } from './resample-wasm.ts';
import type { SampleTarget } from './resample.ts';

// the compile target's lib has no WebAssembly declarations (no DOM lib): the little used here
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}

export interface Kernel {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  horizontal(src: number, dst: number, n: number, C: number, lo: number, hi: number, w: number, pad: number): void;
  vertical(a: number, b: number, out: number, n: number, C: number, yw: number, mean: number, std: number, ostride: number): void;
  /** darknet's resize_image of output rows y0 .. y1 - 1, as the job block at `job` describes (resample.wat). */
  dk_resize(job: number, y0: number, y1: number): void;
}

let kernel: Kernel | undefined;

export function loadKernel(): Kernel {
  if (!kernel) {
    const bytes = Uint8Array.from(atob(RESAMPLE_WASM), (ch) => ch.charCodeAt(0));
    const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
    const inst = new wasm.Instance(new wasm.Module(bytes));
    kernel = inst.exports as unknown as Kernel;
  }
  return kernel;
}

/** The kernel's memory, grown to at least `bytes`. */
export function kernelMemory(k: Kernel, bytes: number): ArrayBuffer {
  const have = k.memory.buffer.byteLength;
  if (have < bytes) k.memory.grow(Math.ceil((bytes - have) / 65536));
  return k.memory.buffer;
}

/** Bump allocation of 16-aligned regions of the kernel's memory, from 0. */
export function regions(): { take(bytes: number): number; readonly end: number } {
  let at = 0;
  return {
    take(bytes: number) { const p = at; at += Math.ceil(bytes / 16) * 16; return p; },
    get end() { return at; },
  };
}

/**
 * The resampled picture's C planes (outW x outH each, from float index `at` of the kernel's memory) into the
 * planar input at (dx, dy): one copy a plane when its rows fill the input's width.
 */
export function copyPlanes(f32: Float32Array, at: number, C: number, dst: SampleTarget): void {
  const { outW, outH, netW } = dst;
  const outPlane = outW * outH, plane = netW * dst.netH;
  for (let c = 0; c < C; c++) {
    if (outW === netW) {
      dst.out.set(f32.subarray(at + c * outPlane, at + (c + 1) * outPlane), c * plane + dst.dy * netW);
      continue;
    }
    for (let y = 0; y < outH; y++) {
      const from = at + c * outPlane + y * outW;
      dst.out.set(f32.subarray(from, from + outW), c * plane + (y + dst.dy) * netW + dst.dx);
    }
  }
}
