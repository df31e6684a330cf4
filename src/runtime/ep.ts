// Execution providers: parse the user's preference list and create a session with the first one that
// works. ORT throws at session creation when a provider's libraries are missing (e.g. cuda on a CPU
// box), which is exactly the signal to fall back.
import ort from 'onnxruntime-node';

/** Providers onnxruntime-node can be asked for by name. */
export const KNOWN_EPS = ['cuda', 'tensorrt', 'dml', 'coreml', 'webgpu', 'cpu'] as const;
export type EpName = (typeof KNOWN_EPS)[number];

/** "cuda,cpu" -> ['cuda', 'cpu']; throws on unknown names or an empty list. */
export function parseEps(spec: string | readonly string[]): EpName[] {
  const list = (typeof spec === 'string' ? spec.split(',') : [...spec]).map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (list.length === 0) throw new Error('execution provider list is empty (e.g. --ep cuda,cpu)');
  for (const ep of list) {
    if (!(KNOWN_EPS as readonly string[]).includes(ep)) {
      throw new Error(`unknown execution provider "${ep}" (known: ${KNOWN_EPS.join(', ')})`);
    }
  }
  return [...new Set(list)] as EpName[];
}

export interface ThreadOptions {
  intraOpThreads: number;
  /** let idle intra-op threads spin for work (ORT's default); off yields the core to other work */
  spinning?: boolean;
}

export function sessionOptions(ep: EpName, t: ThreadOptions): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [ep],
    // Measured here: 'parallel' halves throughput on CPU; one inter-op thread since we run sequentially.
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    intraOpNumThreads: t.intraOpThreads,
    interOpNumThreads: 1,
    ...(t.spinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
  };
}

export interface EpAttempt {
  ep: EpName;
  error: string;
}

export interface CreatedSession {
  session: ort.InferenceSession;
  ep: EpName;
  /** providers tried before `ep`, with why they failed */
  failed: EpAttempt[];
}

/** Tries each provider in order; throws an Error listing every attempt if none works. */
export async function createSession(bytes: Uint8Array, eps: readonly EpName[], t: ThreadOptions): Promise<CreatedSession> {
  const failed: EpAttempt[] = [];
  for (const ep of eps) {
    try {
      const session = await ort.InferenceSession.create(bytes, sessionOptions(ep, t));
      return { session, ep, failed };
    } catch (e) {
      failed.push({ ep, error: firstLine(e) });
    }
  }
  throw new Error(`no execution provider could load the model: ${failed.map((f) => `${f.ep}: ${f.error}`).join('; ')}`);
}

export function firstLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n').map((s) => s.trim()).filter(Boolean)[0] ?? 'unknown error';
}
