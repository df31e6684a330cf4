// Cold-start phases, from any thread, on stderr when PINHOLE_TRACE_START is set (bench/cold-ab.ts reads
// them): one line per mark with the wall-clock time in epoch ms, so that marks of the main thread and of
// the workers line up against the time the process was spawned. Off, a mark costs one branch.
import { threadId } from 'node:worker_threads';

const on = Boolean(process.env.PINHOLE_TRACE_START);

export function startMark(label: string): void {
  if (on) process.stderr.write(`[start] ${(performance.timeOrigin + performance.now()).toFixed(1)} t${threadId} ${label}\n`);
}
