// The few Prometheus figures the Models tab shows, read from GET /metrics (text exposition format).
// Counter names follow SPEC.md (pinhole_inference_total / pinhole_execution_total); the retired
// pinhole_inference_count / pinhole_execution_count are read too, for servers not yet renamed.

export type Samples = Map<string, number>;

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/;

/** name{labels} -> value, for every sample of a pinhole_* metric. */
export function parseProm(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith('pinhole_')) continue;
    const m = LINE.exec(line);
    if (m) out.set(m[1] + (m[2] ?? ''), Number(m[3]));
  }
  return out;
}

function get(s: Samples, names: readonly string[], model: string): number | undefined {
  for (const n of names) {
    const v = s.get(`${n}{model="${model}"}`);
    if (v !== undefined) return v;
  }
  return undefined;
}

export interface ModelFigures {
  images: number | undefined;
  batches: number | undefined;
  queueDepth: number | undefined;
  ready: number | undefined;
}

export function figures(s: Samples, model: string): ModelFigures {
  return {
    images: get(s, ['pinhole_inference_total', 'pinhole_inference_count'], model),
    batches: get(s, ['pinhole_execution_total', 'pinhole_execution_count'], model),
    queueDepth: get(s, ['pinhole_queue_depth'], model),
    ready: get(s, ['pinhole_model_ready'], model),
  };
}

/** images/s and average batch between two readings (undefined until there are two). */
export function rates(prev: ModelFigures | undefined, cur: ModelFigures, seconds: number): { imagesPerSec?: number; avgBatch?: number } {
  if (!prev || prev.images === undefined || cur.images === undefined || seconds <= 0) return {};
  const di = cur.images - prev.images;
  const db = (cur.batches ?? 0) - (prev.batches ?? 0);
  return { imagesPerSec: di / seconds, avgBatch: db > 0 ? di / db : undefined };
}
