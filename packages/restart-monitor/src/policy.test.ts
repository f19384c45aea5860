import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { taskOutput } from './monitor.js';
import { CountLabel, ExplicitlyStoppedLabel, LogPathLabel, LogURILabel, PolicyLabel, formatPolicy, parsePolicy, shouldRestart } from './policy.js';

describe('restart policies (containerd 1.7)', () => {
  it('parses no, always, unless-stopped, on-failure[:N], empty as always', () => {
    expect(parsePolicy('')).toEqual({ name: 'always', maximumRetryCount: 0 });
    expect(parsePolicy('no')).toEqual({ name: 'no', maximumRetryCount: 0 });
    expect(parsePolicy('unless-stopped')).toEqual({ name: 'unless-stopped', maximumRetryCount: 0 });
    expect(parsePolicy('on-failure')).toEqual({ name: 'on-failure', maximumRetryCount: 0 });
    expect(parsePolicy('on-failure:10')).toEqual({ name: 'on-failure', maximumRetryCount: 10 });
    expect(formatPolicy(parsePolicy('on-failure:10'))).toBe('on-failure:10');
    expect(formatPolicy(parsePolicy(''))).toBe('always');
  });

  it('refuses what containerd refuses, with its messages', () => {
    expect(() => parsePolicy('always:3')).toThrow('restart policy "always" not support max retry count');
    expect(() => parsePolicy('on-failure:x')).toThrow('invalid max retry count: x');
    expect(() => parsePolicy('sometimes')).toThrow('restart policy "sometimes" not supported');
  });

  it('decides restarts as restart.Reconcile', () => {
    const failed = { exitStatus: 1 };
    const ok = { exitStatus: 0 };
    expect(shouldRestart(ok, {})).toBe(true);
    expect(shouldRestart(ok, { [PolicyLabel]: 'always' })).toBe(true);
    expect(shouldRestart(failed, { [PolicyLabel]: 'no' })).toBe(false);
    expect(shouldRestart(ok, { [PolicyLabel]: 'on-failure' })).toBe(false);
    expect(shouldRestart(failed, { [PolicyLabel]: 'on-failure' })).toBe(true);
    expect(shouldRestart(failed, { [PolicyLabel]: 'on-failure:2' })).toBe(true);
    expect(shouldRestart(failed, { [PolicyLabel]: 'on-failure:2', [CountLabel]: '1' })).toBe(true);
    expect(shouldRestart(failed, { [PolicyLabel]: 'on-failure:2', [CountLabel]: '2' })).toBe(false);
    expect(() => shouldRestart(failed, { [PolicyLabel]: 'on-failure:2', [CountLabel]: 'two' })).toThrow(/invalid syntax/);
    expect(shouldRestart(ok, { [PolicyLabel]: 'unless-stopped' })).toBe(true);
    expect(shouldRestart(ok, { [PolicyLabel]: 'unless-stopped', [ExplicitlyStoppedLabel]: 'true' })).toBe(false);
    expect(shouldRestart(ok, { [PolicyLabel]: 'unless-stopped', [ExplicitlyStoppedLabel]: 'false' })).toBe(true);
    expect(() => shouldRestart(ok, { [PolicyLabel]: 'bogus' })).toThrow('restart policy "bogus" not supported');
  });
});

describe('the restarted task\'s output', () => {
  it('goes to the log URI, else to the log path (created with its directory), else nowhere', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'restart-log-'));
    try {
      expect(taskOutput({})).toBe('');
      expect(taskOutput({ [LogURILabel]: 'file:///var/log/x.log', [LogPathLabel]: join(dir, 'ignored.log') })).toBe('file:///var/log/x.log');
      const path = join(dir, 'sub', 'task.log');
      expect(taskOutput({ [LogPathLabel]: path })).toBe(path);
      expect(await readFile(path, 'utf8')).toBe('');
      expect(() => taskOutput({ [LogURILabel]: 'file:///x%zz' })).toThrow('failed to parse file:///x%zz into url');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
