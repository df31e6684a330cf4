// TensorFlow.js backend selection for training and tfjs reference runs.
// Preference: tfjs-node-gpu > tfjs-node > wasm. The native bindings cannot be installed everywhere
// (their install step downloads libtensorflow), so they are optional and probed at run time.
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';
import { registerWasmTrainingKernels } from './wasm-kernels.ts';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

const require = createRequire(import.meta.url);
let chosen: Promise<BackendName> | undefined;

async function tryNative(): Promise<boolean> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
      if (await tf.setBackend('tensorflow')) return true;
    } catch {
      // not installed or failed to load its native library: try the next one
    }
  }
  return false;
}

/**
 * Picks and initialises the fastest available backend once per process; must be awaited before
 * any tfjs op. `prefer` forces one ('cpu' only for tiny reference computations, never training).
 */
export function initBackend(prefer?: BackendName): Promise<BackendName> {
  chosen ??= (async () => {
    if ((prefer === undefined || prefer === 'tensorflow') && (await tryNative())) return 'tensorflow';
    if (prefer === 'cpu') {
      await tf.setBackend('cpu');
      return 'cpu';
    }
    const dist = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
    setWasmPaths(dist);
    if (!(await tf.setBackend('wasm'))) throw new Error('could not initialise the tfjs wasm backend');
    await tf.ready();
    // the wasm backend cannot train convolutions without these (see wasm-kernels.ts)
    registerWasmTrainingKernels();
    return 'wasm';
  })();
  return chosen;
}

export { tf };
