// Execution providers by name: the user's preference list, parsed. Creating a session with the first
// one that works is ort-session.ts's, in the workers: this module stays free of onnxruntime-node, so the
// main thread never loads it (start-up time and resident memory).

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

export interface EpAttempt {
  ep: EpName;
  error: string;
}

export function firstLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n').map((s) => s.trim()).filter(Boolean)[0] ?? 'unknown error';
}
