// Serving-time rewrites of a model's graph before ONNX Runtime sees it: Winograd convolutions
// (src/onnx/winograd) for float32 models on the CPU provider. CUDA has cuDNN's own algorithms and int8
// graphs run as QLinearConv, so both get model.onnx as it is. The model folder is never written.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Manifest } from '../manifest.ts';
import { applyWinograd, DEFAULT_RULE, WINOGRAD_VERSION } from '../onnx/winograd/index.ts';
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
  /** what ORT is given: the rewritten bytes, or the file when nothing was rewritten */
  model: string | Uint8Array;
  /** the convolutions that run as Winograd */
  winograd: string[];
}

/**
 * model.onnx with the pass applied (read and rewritten here) or as it is. A file the pass cannot read goes to
 * ORT as it is: ORT's own error says what is wrong with it (or ORT loads what our decoder could not).
 */
export function prepareModel(file: string, applies: boolean): PreparedModel {
  const asIs = { model: file, winograd: [] };
  if (!applies) return asIs;
  let r;
  try {
    r = applyWinograd(readFileSync(file));
  } catch {
    return asIs;
  }
  return r.rewritten.length ? { model: r.bytes, winograd: r.rewritten } : asIs;
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
