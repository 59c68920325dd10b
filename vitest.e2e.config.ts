import { defineConfig } from 'vitest/config';

// Slow suite: end-to-end (real server processes, CLI on full datasets) and browser tests.
export default defineConfig({
  test: {
    include: ['test/**/*.e2e.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
  },
});
