// Session creation, in the inference workers: the first execution provider of the list that works. ORT
// throws at session creation when a provider's libraries are missing (e.g. cuda on a CPU box), which is
// exactly the signal to fall back.
import ort from 'onnxruntime-node';
import { firstLine, type EpAttempt, type EpName } from './ep.ts';

/**
 * What ORT's intra-op threads do between parallel sections: true spins for more work (ORT's default), false
 * sleeps at once (the core goes to other work), 'run' spins only while a run lasts and sleeps at its end
 * (session.force_spinning_stop): the layers of one image hand over without a wake-up each, and no thread
 * holds a core between images.
 */
export type Spinning = boolean | 'run';

export interface ThreadOptions {
  intraOpThreads: number;
  spinning?: Spinning;
  /** ORT's CPU memory arena (default on) */
  cpuMemArena?: boolean;
  /**
   * 'cached': the file is a graph ORT optimized already (ort-cache.ts), loaded with optimizations off;
   * saveTo: optimize as usual and save the optimized graph there, its weights in the file `weights` beside
   * it (a name, not a path: ORT resolves it against the graph's folder), which ORT maps at the next load.
   */
  optimized?: 'cached' | { saveTo: string; weights: string };
  /** an int8 QDQ graph of `pinhole quantize` (model.json precision int8) */
  quantized?: boolean;
}

// ORT's QDQ propagation moves a QuantizeLinear up through a MaxPool: into the float first layer and pool
// the quantizer keeps, where the uint8 pool then runs in NCHW (src/onnx/quantize/index.ts, FOLLOWERS).
const KEEP_QDQ_WHERE_PLACED = { disable_specified_optimizers: 'QDQPropagationTransformer' };

const SPINNING = {
  off: { intra_op: { allow_spinning: '0' } },
  run: { intra_op: { allow_spinning: '1' }, force_spinning_stop: '1' },
};

/**
 * Weights from this size go to the external file; smaller ones (biases, the transforms' small kernels) stay in
 * the graph, where reading them costs nothing worth a mapping.
 */
const EXTERNAL_MIN_BYTES = 4096;

export function sessionOptions(ep: EpName, t: ThreadOptions): ort.InferenceSession.SessionOptions {
  const spin = t.spinning === false ? SPINNING.off : t.spinning === 'run' ? SPINNING.run : undefined;
  const save = typeof t.optimized === 'object' ? {
    optimized_model_external_initializers_file_name: t.optimized.weights,
    optimized_model_external_initializers_min_size_in_bytes: String(EXTERNAL_MIN_BYTES),
  } : undefined;
  const session = spin || save ? { ...spin, ...save } : undefined;
  return {
    executionProviders: [ep],
    // Measured here: 'parallel' halves throughput on CPU; one inter-op thread since we run sequentially.
    executionMode: 'sequential',
    graphOptimizationLevel: t.optimized === 'cached' ? 'disabled' : 'all',
    ...(typeof t.optimized === 'object' ? { optimizedModelFilePath: t.optimized.saveTo } : {}),
    intraOpNumThreads: t.intraOpThreads,
    interOpNumThreads: 1,
    // off: activations are allocated per run and given back, instead of an arena kept at its peak
    ...(t.cpuMemArena === false ? { enableCpuMemArena: false } : {}),
    extra: {
      ...(session ? { session } : {}),
      ...(t.quantized ? { optimization: KEEP_QDQ_WHERE_PLACED } : {}),
    },
  };
}

export interface CreatedSession {
  session: ort.InferenceSession;
  ep: EpName;
  /** providers tried before `ep`, with why they failed */
  failed: EpAttempt[];
}

/**
 * Tries each provider in order on the model.onnx at `file`; throws an Error listing every attempt if none
 * works. `cpuModel`: the file the CPU provider gets instead, when the runtime rewrote the graph for it.
 */
export async function createSession(file: string, eps: readonly EpName[], t: ThreadOptions, cpuModel?: string): Promise<CreatedSession> {
  const failed: EpAttempt[] = [];
  for (const ep of eps) {
    try {
      const session = await ort.InferenceSession.create(ep === 'cpu' && cpuModel ? cpuModel : file, sessionOptions(ep, t));
      return { session, ep, failed };
    } catch (e) {
      failed.push({ ep, error: firstLine(e) });
    }
  }
  throw new Error(`no execution provider could load the model: ${failed.map((f) => `${f.ep}: ${f.error}`).join('; ')}`);
}
