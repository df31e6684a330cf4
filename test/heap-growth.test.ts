// `pinhole serve` fixes V8's heap growth (src/server/heap-growth.ts) so that the external memory of a stream
// server's Buffers does not drive it into a full collection every few hundred ms. Shown in child processes
// running the server's garbage in miniature (test/helpers/external-churn.ts): with the growth V8 picks when it
// measures its collections as slow (forced here with --heap-growing-percent=10, as a busy machine makes it),
// full collections come every few hundred ms; the same process after setHeapGrowth() has none.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HEAP_GROWING_PERCENT, setHeapGrowth } from '../src/server/heap-growth.ts';

const CHURN = fileURLToPath(new URL('./helpers/external-churn.ts', import.meta.url));

function majors(nodeFlags: string[], grow: boolean): number {
  const out = execFileSync(process.execPath, [...nodeFlags, '--import', 'tsx', CHURN, '--ticks', '75', ...(grow ? ['--grow'] : [])], {
    encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, timeout: 60_000,
  });
  return (JSON.parse(out.trim().split('\n').pop()!) as { majors: number }).majors;
}

describe('heap growth for a stream server', () => {
  it('keeps the old generation clear of the external memory churn: no full collections where slow growth makes one every few hundred ms', () => {
    const slow = majors(['--heap-growing-percent=10'], false);
    const grown = majors(['--heap-growing-percent=10'], true);
    expect(slow).toBeGreaterThanOrEqual(3);
    expect(grown).toBeLessThanOrEqual(1);
  });

  it('leaves a growth given to Node by the operator alone, and refuses a percent that is not a positive integer', () => {
    expect(setHeapGrowth(HEAP_GROWING_PERCENT, ['--heap-growing-percent=50'], '')).toBeUndefined();
    expect(setHeapGrowth(HEAP_GROWING_PERCENT, [], '--max-old-space-size=512 --heap-growing-percent=50')).toBeUndefined();
    expect(() => setHeapGrowth(0, [], '')).toThrow(/integer > 0/);
    expect(() => setHeapGrowth(1.5, [], '')).toThrow(/integer > 0/);
  });
});
