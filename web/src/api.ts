// The server's HTTP API as the console uses it. The wire types are the server's own (type-only imports,
// erased by esbuild), so a change of the detection response shows up here at type-check time.
import type { Detection, DetectionResponse } from '../../src/runtime/types.ts';

export type { Detection, DetectionResponse };

export interface ModelEntry {
  name: string;
  kind?: string;
  status: 'ready' | 'loading' | 'error';
  ready: boolean;
  error?: string;
  input?: { width: number; height: number; channels: number };
  classes?: number;
  ep?: string;
  max_batch?: number;
  source?: string;
  metrics?: Record<string, unknown>;
}

export interface StreamResult extends Partial<DetectionResponse> {
  frame: number;
  dropped: number;
  id?: number;
  error?: { code: string; message: string };
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

async function failure(res: Response): Promise<ApiError> {
  try {
    const j = await res.json() as { error?: { code?: string; message?: string } };
    return new ApiError(res.status, j.error?.code ?? 'error', j.error?.message ?? res.statusText);
  } catch {
    return new ApiError(res.status, 'error', res.statusText);
  }
}

export async function listModels(): Promise<ModelEntry[]> {
  const res = await fetch('v1/models');
  if (!res.ok) throw await failure(res);
  return ((await res.json()) as { models: ModelEntry[] }).models;
}

export interface DetectQuery {
  model: string;
  thresh?: number;
  nms?: number;
  hier?: number;
}

function query(q: object): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '' && !Number.isNaN(v)) p.set(k, String(v));
  return p.toString();
}

export async function detect(image: Blob, q: DetectQuery): Promise<DetectionResponse> {
  const res = await fetch(`v1/detect?${query(q)}`, {
    method: 'POST', body: image, headers: { 'content-type': image.type || 'application/octet-stream' },
  });
  if (!res.ok) throw await failure(res);
  return res.json() as Promise<DetectionResponse>;
}

export async function generate(model: string, text: string, seed: number, stage: 1 | 2): Promise<Blob> {
  const res = await fetch('v1/generate', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, text, seed, stage }),
  });
  if (!res.ok) throw await failure(res);
  return res.blob();
}

export async function sample(model: string, seed: number, n: number): Promise<Blob> {
  const res = await fetch(`v1/sample?${query({ model, seed, n })}`);
  if (!res.ok) throw await failure(res);
  return res.blob();
}

export async function metricsText(): Promise<string> {
  const res = await fetch('metrics');
  if (!res.ok) throw await failure(res);
  return res.text();
}

/** ws(s)://host/…/v1/stream?… relative to the page, so a console behind a path prefix still works. */
export function streamUrl(q: DetectQuery): string {
  const u = new URL(`v1/stream?${query(q)}`, location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}
