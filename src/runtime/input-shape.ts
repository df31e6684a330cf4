// The graph's input against model.json, checked where the session is made (the inference worker), before
// its warm-up run: a mismatch is reported in model.json's terms rather than as ONNX Runtime's shape error.
import { isDetector, type Manifest } from '../manifest.ts';
import type { TensorMeta } from './protocol.ts';

/** Throws on a graph input that disagrees with model.json; returns the batch size the graph fixes, if it does. */
export function checkInputShape(m: Manifest, inputs: TensorMeta[]): number | undefined {
  const name = m.onnx?.input ?? inputs[0]?.name;
  const meta = inputs.find((i) => i.name === name);
  if (!meta) throw new Error(`model.onnx has no input "${name}"`);
  if (!isDetector(m)) return undefined;
  if (meta.type !== 'float32') throw new Error(`model.onnx input "${name}" is ${meta.type}, expected float32`);
  const want = [m.input.channels, m.input.height, m.input.width];
  if (meta.shape.length === 4) {
    for (let k = 0; k < 3; k++) {
      const d = meta.shape[k + 1];
      if (typeof d === 'number' && d > 0 && d !== want[k]) {
        throw new Error(`model.onnx input "${name}" is [${meta.shape.join(', ')}] but model.json input says ${m.input.channels}x${m.input.height}x${m.input.width} (CxHxW)`);
      }
    }
  } else if (meta.shape.length > 0) {
    throw new Error(`model.onnx input "${name}" has rank ${meta.shape.length}, expected NCHW`);
  }
  const b = meta.shape[0];
  return typeof b === 'number' && b > 0 ? b : undefined;
}
