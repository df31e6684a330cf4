// The first half of a runtime's start, in a module that loads in a few ms (no sharp, no decoders, no
// batcher): the options checked, the model folders listed, the thread plan chosen and the inference workers
// spawned. `pinhole serve` calls it before it imports the rest of the runtime and the server, so that
// onnxruntime-node loads on the worker's thread while the main thread imports its modules (~130 ms of a
// cold start they used to spend one after the other: bench/README.md "Cold start: one session first").
import { join } from 'node:path';
import { allInt8, listModelFolders } from './folder.ts';
import { Sessions } from './sessions.ts';
import type { RuntimeLogger, RuntimeOptions } from './types.ts';

/** The workers (only the first with `rampUp`) and the folders they are to load. */
export interface StartedWorkers {
  names: string[];
  sessions: Sessions;
}

/** Bad numbers fail the start before any worker is spawned. */
export function checkOptions(o: RuntimeOptions): void {
  const int = (v: number | undefined, name: string, lo: number) => {
    if (v !== undefined && (!Number.isInteger(v) || v < lo)) throw new Error(`${name} must be an integer >= ${lo}, got ${v}`);
  };
  int(o.maxBatch, 'maxBatch', 1);
  int(o.queueLimit, 'queueLimit', 1);
  int(o.workers, 'workers', 1);
  int(o.intraOpThreads, 'intraOpThreads', 1);
  int(o.soloThreads, 'soloThreads', 0);
  int(o.decodeLanes, 'decodeLanes', 1);
  int(o.maxInputPixels, 'maxInputPixels', 1);
  if (o.batchDelayMs !== undefined && !(Number.isFinite(o.batchDelayMs) && o.batchDelayMs >= 0)) {
    throw new Error(`batchDelayMs must be a number >= 0, got ${o.batchDelayMs}`);
  }
}

/** Checks the options, lists the folders and spawns the workers; the sessions are Runtime.start's business. */
export async function startWorkers(o: RuntimeOptions & { log: RuntimeLogger }): Promise<StartedWorkers> {
  checkOptions(o);
  let names = await listModelFolders(o.modelsDir);
  if (o.only) {
    const missing = o.only.filter((n) => !names.includes(n));
    if (missing.length) throw new Error(`no model folder ${missing.map((n) => join(o.modelsDir, n)).join(', ')}`);
    names = [...o.only];
  }
  const sessions = await Sessions.start({
    eps: o.eps, workers: o.workers, intraOpThreads: o.intraOpThreads, soloThreads: o.soloThreads, spinning: o.intraOpSpinning, cpuMemArena: o.cpuMemArena,
    int8Only: await allInt8(o.modelsDir, names), winograd: o.winograd, ortCache: o.ortCache, rampUp: o.rampUp, log: o.log,
  });
  return { names, sessions };
}
