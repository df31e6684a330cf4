// The batcher on its own, with adapters that record what they are handed: it knows nothing of what a
// job is; admission is a ticket; consecutive jobs of one adapter batch up to its size, FIFO per model.
import { describe, expect, it } from 'vitest';
import { PinholeError } from '../src/errors.ts';
import { Batcher, type Adapter } from '../src/runtime/batcher.ts';

interface Recorder<J> extends Adapter<J, string> {
  batches: J[][];
  release(): void;
}

/** An adapter whose batches finish when release() is called (or at once when `hold` is false). */
function recorder<J>(maxBatch: number, hold = false): Recorder<J> {
  const waiting: Array<() => void> = [];
  const r: Recorder<J> = {
    maxBatch,
    batches: [],
    release: () => { for (const f of waiting.splice(0)) f(); },
    run: async (_worker, jobs) => {
      r.batches.push([...jobs]);
      if (hold) await new Promise<void>((resolve) => waiting.push(resolve));
      return { results: jobs.map((j) => `done ${String(j)}`), inferMs: 1, postMs: 0 };
    },
  };
  return r;
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('batcher', () => {
  it('admission is a ticket: a full queue is overloaded, cancel gives the slot back, a ticket is used once', async () => {
    const b = new Batcher(1, () => true, { maxBatch: 4, batchDelayMs: 0, queueLimit: 2 });
    const q = b.open('m');
    const t1 = b.admit(q);
    const t2 = b.admit(q);
    let err: unknown;
    try { b.admit(q); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(PinholeError);
    expect((err as PinholeError).code).toBe('overloaded');
    expect((err as PinholeError).retryAfter).toBeGreaterThanOrEqual(1);
    expect(b.stats().m).toEqual({ versions: 1, queued: 2, running: 0 });
    t1.cancel();
    expect(() => t1.cancel()).toThrow(/once/);
    const t3 = b.admit(q);
    const a = recorder<number>(4);
    const done = await Promise.all([t2.submit(a, 1, Infinity), t3.submit(a, 2, Infinity)]);
    expect(done.map((d) => d.result)).toEqual(['done 1', 'done 2']);
    expect(b.idle).toBe(true);
    b.stop();
  });

  it('batches consecutive jobs of one adapter up to its size; another adapter\'s job runs alone, in order', async () => {
    const b = new Batcher(1, () => true, { maxBatch: 3, batchDelayMs: 50, queueLimit: 64 });
    const q = b.open('m');
    const hold = recorder<string>(1, true);
    const det = recorder<string>(3);
    const solo = recorder<string>(1);
    // the worker is busy with a held job while the others queue up
    const first = b.admit(q).submit(hold, 'h', Infinity);
    await tick();
    const order: Array<[Recorder<string>, string]> = [[det, 'a'], [det, 'b'], [solo, 'raw'], [det, 'c'], [det, 'd'], [det, 'e']];
    const submitted = order.map(([adapter, j]) => b.admit(q).submit(adapter, j, Infinity));
    hold.release();
    const results = await Promise.all([first, ...submitted]);
    expect(det.batches).toEqual([['a', 'b'], ['c', 'd', 'e']]);
    expect(solo.batches).toEqual([['raw']]);
    expect(results.slice(1).map((r) => r.timing.batchSize)).toEqual([2, 2, 1, 3, 3, 3]);
    b.stop();
  });

  it('an adapter\'s own batch delay wins over the batcher\'s: 0 runs a lone job at once, none waits for company', async () => {
    const b = new Batcher(1, () => true, { maxBatch: 4, batchDelayMs: 60_000, queueLimit: 8 });
    const q = b.open('m');
    const eager = { ...recorder<string>(4), batchDelayMs: 0 };
    const r = await b.admit(q).submit(eager, 'x', Infinity);
    expect(r.timing.batchSize).toBe(1);
    const patient = recorder<string>(4);
    let done = false;
    void b.admit(q).submit(patient, 'y', Infinity).then(() => { done = true; });
    await tick();
    expect(done).toBe(false);
    expect(patient.batches).toEqual([]);
    b.flush = true;
    b.pump();
    await tick();
    expect(done).toBe(true);
    b.stop();
  });

  it('a retired queue drains what it admitted, then reports drained once', async () => {
    const b = new Batcher(1, () => true, { maxBatch: 4, batchDelayMs: 1000, queueLimit: 8 });
    const drained: string[] = [];
    b.onDrained = (q) => drained.push(q.model);
    const q = b.open('old');
    const a = recorder<number>(4);
    const queued = b.admit(q).submit(a, 1, Infinity);
    const late = b.admit(q);
    b.retire(q);
    // retired: what waits goes at once, without the batch delay
    expect((await queued).result).toBe('done 1');
    expect(drained).toEqual([]);
    expect((await late.submit(a, 2, Infinity)).result).toBe('done 2');
    await tick();
    expect(drained).toEqual(['old']);
    b.stop();
  });

  it('a job still queued at its deadline leaves with timeout', async () => {
    const b = new Batcher(1, () => true, { maxBatch: 4, batchDelayMs: 0, queueLimit: 8 });
    const q = b.open('m');
    const hold = recorder<string>(1, true);
    const first = b.admit(q).submit(hold, 'h', Infinity);
    await tick();
    const late = b.admit(q).submit(recorder<string>(4), 'x', performance.now() + 10);
    await expect(late).rejects.toMatchObject({ code: 'timeout' });
    hold.release();
    await first;
    b.stop();
  });
});
