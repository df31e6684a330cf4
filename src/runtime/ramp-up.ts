// A cold start's second half (RuntimeOptions.rampUp). `pinhole serve` listens once every model has one warm
// session, on worker 0; on 2 cores the other workers' onnxruntime-node loads, their sessions and the solo
// sessions only competed with that (bench/README.md "Cold start: one session first"). They come up here,
// after the server listens, while worker 0 answers what arrives: a worker takes work once it holds every
// live model, and worker 0 takes none while it makes its solo sessions if another worker can.
import type { ModelRegistry } from './registry.ts';
import type { Sessions } from './sessions.ts';
import { startMark } from './start-trace.ts';
import type { RuntimeLogger } from './types.ts';

/**
 * Resolves once the server has been quiet (`idle`) for `quietMs`, at once when a request has had to wait
 * for a worker (`waited`: the rest of the plan is wanted now), at the latest after `maxWaitMs`, or when `stopped`.
 * A cold start's first request, arriving just after listening, then has the cores to itself: beside a worker
 * loading onnxruntime-node it took ~200 ms instead of ~55 (bench/README.md).
 */
export function whenQuiet(idle: () => boolean, waited: () => boolean, stopped: () => boolean, quietMs: number, maxWaitMs: number): Promise<void> {
  const t0 = performance.now();
  let busyAt = idle() ? -Infinity : t0;
  return new Promise((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now();
      if (!idle()) busyAt = now;
      if (stopped() || waited() || now - Math.max(busyAt, t0) >= quietMs || now - t0 >= maxWaitMs) {
        clearInterval(tick);
        resolve();
      }
    }, 10);
  });
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Starts worker `i` and loads every live model into it; it serves from then on. False when it failed. */
async function bringUp(sessions: Sessions, registry: ModelRegistry, i: number, log: RuntimeLogger): Promise<boolean> {
  try {
    await sessions.pool.grow(i);
    await registry.loadInto(i);
    sessions.pool.markReady(i);
    return true;
  } catch (e) {
    log.error(`inference worker ${i} did not come up: ${message(e)}; serving on the others`);
    return false;
  }
}

/** Worker 0's solo sessions, for lone requests, off the batcher's list meanwhile when another worker serves. */
async function addSolos(sessions: Sessions, registry: ModelRegistry, warm: boolean, log: RuntimeLogger): Promise<void> {
  const { pool } = sessions;
  const others = pool.started().some((i) => i > 0 && pool.isReady(i));
  // models loaded from now on bring their own
  sessions.soloFromNowOn();
  if (others) pool.hold(0);
  try {
    for (const model of registry.live()) {
      await sessions.addSolo(model, warm).catch((e) => log.warn(`model ${model.name}: no solo session (${message(e)}); lone requests run on one worker's threads`));
    }
  } finally {
    pool.markReady(0);
  }
}

/** The rest of the thread plan: resolves when it is up (failures are logged, never thrown). */
export async function rampUp(sessions: Sessions, registry: ModelRegistry, warm: boolean, log: RuntimeLogger): Promise<void> {
  if (!sessions.partial) return;
  const t0 = performance.now();
  const { plan, pool } = sessions;
  const late = Array.from({ length: plan.workers }, (_, i) => i).filter((i) => !pool.started().includes(i));
  const up = await Promise.all(late.map((i) => bringUp(sessions, registry, i, log)));
  if (plan.soloThreads > 0) await addSolos(sessions, registry, warm, log);
  startMark('runtime: thread plan up');
  const workers = pool.started().filter((i) => pool.isReady(i)).length;
  const solo = plan.soloThreads && registry.live().some((m) => m.solo) ? ` + a ${plan.soloThreads}-thread solo session` : '';
  log.info(`inference: thread plan up in ${Math.round(performance.now() - t0)} ms: ${workers} of ${plan.workers} worker(s) x ${plan.intraOpThreads} thread(s)${solo}`
    + (up.every(Boolean) ? '' : ' (see the errors above)'));
}
