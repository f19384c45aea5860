import { defineConfig } from 'vitest/config';

// End-to-end tests start real daemons and real clients: one file at a time, generous
// timeouts, and everything a file started cleaned up after it (src/setup.ts).
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    setupFiles: ['src/setup.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
