import { defineConfig } from 'vitest/config';

// applyLayer runs in a worker by default, whose program is a bundle built from src
// (scripts/bundle-apply-worker.mjs): rebuilt before the tests so they never run stale code.
export default defineConfig({
  test: {
    globalSetup: ['./vitest.setup.ts'],
  },
});
