// A short-lived worker thread that runs the Winograd pass on a model file and writes the rewritten model
// beside it (graph-pass.ts says why in a thread of its own). workerData: { file, out }; posts the rewritten
// convolutions' names (none: nothing was written).
import { readFileSync, writeFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { applyWinograd } from '../onnx/winograd/index.ts';

const { file, out } = workerData as { file: string; out: string };
let winograd: string[] = [];
try {
  const r = applyWinograd(readFileSync(file));
  if (r.rewritten.length) writeFileSync(out, r.bytes);
  winograd = r.rewritten;
} catch {
  // a file the pass cannot read goes to ORT as it is: ORT's own error names the fault
}
parentPort!.postMessage(winograd);
