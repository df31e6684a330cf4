// Transpose-free matrix products on the tfjs wasm backend. Its BatchMatMul (and _FusedMatMul) with
// transposeA/transposeB set runs ~6x slower than without (measured here: 64x128 by 128x128, 0.9 ms
// plain vs 5-6 ms transposed), and every Dense gradient asks for one transposed product per weight and
// one per input. Transposing the operand first with the wasm Transpose kernel and calling the plain
// product computes the same numbers. Installed by the GAN trainers before training.
// (A backend-wide kernel tweak; it belongs next to src/train/wasm-kernels.ts and lives here only
// until that module takes it.)
import { tf } from '../backend.ts';

type Info = { dataId: object; shape: number[]; dtype: string };
type KernelFn = (args: { inputs: Record<string, Info>; backend: unknown; attrs?: Record<string, unknown> }) => Info;

let installed = false;

function wrap(name: string, transpose: KernelFn): void {
  const k = tf.getKernel(name, 'wasm');
  if (!k) return;
  const original = k.kernelFunc as unknown as KernelFn;
  const fn: KernelFn = (args) => {
    const attrs = args.attrs ?? {};
    if (!attrs.transposeA && !attrs.transposeB) return original(args);
    const backend = args.backend as { disposeData(id: object): void };
    const temps: Info[] = [];
    const flip = (t: Info): Info => {
      const r = t.shape.length;
      const perm = Array.from({ length: r }, (_, i) => (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i));
      const out = transpose({ inputs: { x: t }, backend: args.backend, attrs: { perm } });
      temps.push(out);
      return out;
    };
    const inputs = { ...args.inputs };
    if (attrs.transposeA) inputs.a = flip(args.inputs.a);
    if (attrs.transposeB) inputs.b = flip(args.inputs.b);
    try {
      return original({ ...args, inputs, attrs: { ...attrs, transposeA: false, transposeB: false } });
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...k, kernelFunc: fn as unknown as tf.KernelFunc });
}

/** Idempotent; a no-op on other backends. */
export function installTransposeFreeMatMul(): boolean {
  if (installed) return true;
  if (tf.getBackend() !== 'wasm') return false;
  const t = tf.getKernel('Transpose', 'wasm');
  if (!t) return false;
  const transpose = t.kernelFunc as unknown as KernelFn;
  wrap('BatchMatMul', transpose);
  wrap('_FusedMatMul', transpose);
  installed = true;
  return true;
}
