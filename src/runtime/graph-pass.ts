// Serving-time rewrites of a model's graph before ONNX Runtime sees it: Winograd convolutions
// (src/onnx/winograd) for float32 models on the CPU provider. CUDA has cuDNN's own algorithms and int8
// graphs run as QLinearConv, so both get model.onnx as it is. The model folder is never written.
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import type { Manifest } from '../manifest.ts';
import { DEFAULT_RULE, WINOGRAD_VERSION } from '../onnx/winograd/index.ts';
import { moduleWorker, siblingModule } from '../threads/module-worker.ts';
import type { EpName } from './ep.ts';

/** Whether the pass applies to this model on this provider list (it is `on` unless turned off). */
export function winogradApplies(on: boolean, eps: readonly EpName[], manifest: Pick<Manifest, 'precision'>): boolean {
  return on && eps[0] === 'cpu' && manifest.precision !== 'int8';
}

/**
 * The pass's part of the ORT cache key: ORT's optimized graph of a rewritten model is another graph, and a
 * new version or rule of the pass makes another one again.
 */
export function passKey(applies: boolean): string {
  const r = DEFAULT_RULE;
  return applies ? `winograd=v${WINOGRAD_VERSION}/F${r.tile}<=${r.maxLargeTileWeights ?? 'any'}/C>=${r.minChannels}/CHW>=${r.minInputValues}` : 'winograd=off';
}

export interface PreparedModel {
  /** what ORT is given: the rewritten model's temporary file, or model.onnx when nothing was rewritten */
  model: string;
  /** the convolutions that run as Winograd */
  winograd: string[];
  /** removes the temporary file */
  dispose(): void;
}

/**
 * model.onnx with the pass applied (as it is when nothing was rewritten). The pass runs in a worker thread of its own that writes the
 * rewritten model to a temporary file: its buffers (the model read, the weights transformed, the model
 * encoded, ~450 MB for yolov2-tiny-voc) go when the thread ends, before ORT loads the file, instead of
 * lingering in this thread's heap while ORT optimizes the graph. Measured with the tiny-voc graph
 * (169 MB rewritten), peak resident memory of creating the session: 950 MB with the bytes handed over from
 * this thread, 780 MB this way (390 MB for the plain 63 MB graph).
 */
export async function prepareModel(file: string): Promise<PreparedModel> {
  const out = join(tmpdir(), `pinhole-winograd-${process.pid}-${threadId}-${randomUUID()}.onnx`);
  const w = moduleWorker(siblingModule(import.meta.url, 'graph-pass-worker'), { workerData: { file, out } });
  const winograd = await new Promise<string[]>((resolve) => {
    w.once('message', resolve);
    // a worker that dies (out of memory) leaves the model as it is
    w.once('error', () => resolve([]));
    w.once('exit', () => resolve([]));
  });
  await w.terminate();
  if (!winograd.length) return { model: file, winograd: [], dispose() {} };
  return { model: out, winograd, dispose: () => rmSync(out, { force: true }) };
}

/** The rewritten convolutions of a cached optimized graph, kept beside it (ORT's file holds no note of them). */
export function writePassNote(path: string, winograd: readonly string[]): void {
  writeFileSync(path, JSON.stringify({ winograd }));
}

export function readPassNote(path: string): string[] | undefined {
  try {
    const j = JSON.parse(readFileSync(path, 'utf8')) as { winograd?: unknown };
    return Array.isArray(j.winograd) ? j.winograd.map(String) : undefined;
  } catch {
    return undefined;
  }
}
