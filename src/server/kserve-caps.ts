// What one KServe infer request may ask for (issue 17). An answer is built in memory on the event loop
// (JSON text ~10-20 bytes a value, binary 4): without a cap one request for a large batch of a generator's
// images takes gigabytes and stalls every other request.
import { PinholeError } from '../errors.ts';
import type { ModelSignature } from '../runtime/types.ts';
import { bad, type V2Request } from './kserve-tensors.ts';

export interface InferCaps {
  /** largest batch (first dimension, where the model leaves it open) */
  maxBatch: number;
  /** most values an answer may hold, all outputs together */
  maxOutputValues: number;
}

export const INFER_CAPS: InferCaps = { maxBatch: 64, maxOutputValues: 1 << 22 };

/** The batch a request asks for: the largest first dimension among inputs whose model dimension is open. */
function batchOf(body: V2Request, sig: ModelSignature | undefined): number {
  let batch = 1;
  for (const t of body.inputs) {
    const open = !sig || (sig.inputs.find((s) => s.name === t.name)?.shape[0] ?? -1) < 0;
    if (open && t.shape.length > 0) batch = Math.max(batch, t.shape[0]);
  }
  return batch;
}

/** Values the outputs will hold for `batch`, or undefined when a dimension other than the batch is open. */
function outputValues(sig: ModelSignature, names: string[] | undefined, batch: number): number | undefined {
  let total = 0;
  for (const o of sig.outputs) {
    if (names && !names.includes(o.name)) continue;
    let n = 1;
    for (const [i, d] of o.shape.entries()) {
      if (d >= 0) n *= d;
      else if (i === 0) n *= batch;
      else return undefined;
    }
    total += n;
  }
  return total;
}

export function overOutputCap(values: number, caps: InferCaps): PinholeError {
  return new PinholeError('too_large', `the answer would hold ${values} values, over the cap of ${caps.maxOutputValues} per request; send a smaller batch`);
}

/** Refuses, before anything runs, a request over the batch or answer-size cap. */
export function checkCaps(body: V2Request, sig: ModelSignature | undefined, caps: InferCaps): void {
  const batch = batchOf(body, sig);
  checkBatch(batch, caps);
  const values = sig && outputValues(sig, body.outputs?.map((o) => o.name), batch);
  if (values !== undefined && values > caps.maxOutputValues) throw overOutputCap(values, caps);
}

const SHAPE_HEAD = /"shape"\s*:\s*\[\s*(\d+)/g;

/**
 * The largest first dimension among the "shape" arrays of a JSON body still in text. A batch over the cap
 * is refused from it before megabytes of tensor data are parsed on the event loop (only for models whose
 * every input has an open first dimension, so a first dimension is always the batch).
 */
export function declaredBatch(text: string): number {
  let batch = 0;
  for (const m of text.matchAll(SHAPE_HEAD)) batch = Math.max(batch, Number(m[1]));
  return batch;
}

/**
 * The batch cap to check in the JSON text, for a model whose inputs all have an open batch dimension
 * (undefined: nothing to check in the text).
 */
export function textBatchCap(sig: ModelSignature | undefined, caps: InferCaps): number | undefined {
  return sig && sig.inputs.every((t) => (t.shape[0] ?? 0) < 0) ? caps.maxBatch : undefined;
}

/** The check splitInferBody runs on the JSON text: refuses a batch over `maxBatch` (none when undefined). */
export function textBatchCheck(maxBatch: number | undefined): ((text: string) => void) | undefined {
  return maxBatch === undefined ? undefined : (text) => checkBatch(declaredBatch(text), { maxBatch });
}

function checkBatch(batch: number, caps: Pick<InferCaps, 'maxBatch'>): void {
  if (batch > caps.maxBatch) throw bad(`batch of ${batch} is over the cap of ${caps.maxBatch} per request; split it`);
}
