// vitest `setupFiles`: each test file runs with a temporary root of its own (TMPDIR), and
// whatever the file left running, mounted or on disk is cleaned up after its last hook
// (see cleanup.ts), whether its tests passed, failed or timed out.
import { afterAll } from 'vitest';
import { beginFile, endFile } from './cleanup.js';

beginFile();

// Registered first, so run last: after the file's own afterAll hooks.
afterAll(async () => {
  const left = await endFile();
  if (left && (left.processes.length > 0 || left.mounts.length > 0 || left.loopDevices.length > 0)) {
    console.warn(
      `cleanup: the test file left ${left.processes.length} process(es), ${left.mounts.length} mount(s) and ` +
        `${left.loopDevices.length} loop device(s); stopped and removed:\n  ${[...left.processes, ...left.mounts, ...left.loopDevices].join('\n  ')}`,
    );
  }
}, 60_000);
