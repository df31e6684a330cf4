import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const run = (...args: string[]) => spawnSync(process.execPath, ['bin/pinhole.js', 'bench', ...args], { encoding: 'utf8', timeout: 60_000 });

describe('pinhole bench', () => {
  it('passes its options through to bench/run.ts and keeps its exit code', () => {
    const r = run('--only', 'no-such-bench');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no bench "no-such-bench" \(known: http, ws, vision/);
  });

  it('has --help', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/passed to bench\/run.ts/);
  });
});
