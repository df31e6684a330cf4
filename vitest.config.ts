import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Two cores: ORT sessions and darknet oracle runs are CPU-heavy; run files in few workers.
    pool: 'forks',
    maxWorkers: 2,
  },
});
