// The daemon's root and state directories get containerd's modes: created 0700 and 0711,
// tightened (with a warning) when more open, never loosened.
import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daemonConfigSchema } from '@containerd-ts/config';
import type { Logger } from '@containerd-ts/plugin';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDaemon } from './daemon.js';

interface Line {
  level: string;
  obj: object | string;
  msg?: string;
}

function recordingLogger(lines: Line[]): Logger {
  const at =
    (level: string) =>
    (obj: object | string, msg?: string): void => {
      lines.push({ level, obj, ...(msg === undefined ? {} : { msg }) });
    };
  const log: Logger = {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => log,
  };
  return log;
}

const modeOf = async (path: string) => (await stat(path)).mode & 0o7777;

describe('root and state directories', () => {
  let dir = '';
  let lines: Line[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'daemon-dirs-'));
    lines = [];
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (root: string, state: string) => {
    const config = daemonConfigSchema.parse({ root, state, grpc: { address: join(dir, 'run', 'd.sock') } });
    const daemon = createDaemon({ plugins: [], config, log: recordingLogger(lines) });
    try {
      await daemon.start();
    } finally {
      await daemon.stop();
    }
  };
  const warnings = () => lines.filter((l) => l.level === 'warn').map((l) => `${l.msg} ${JSON.stringify(l.obj)}`);

  it('creates root 0700 (with its missing parents) and state 0711', async () => {
    const root = join(dir, 'a', 'b', 'root');
    const state = join(dir, 'state');
    await run(root, state);
    expect((await modeOf(root)).toString(8)).toBe('700');
    expect((await modeOf(join(dir, 'a'))).toString(8)).toBe('700');
    expect((await modeOf(state)).toString(8)).toBe('711');
    expect(warnings()).toEqual([]);
  });

  it('tightens an existing root and state that are more open, with a warning naming each', async () => {
    const root = join(dir, 'root');
    const state = join(dir, 'state');
    await mkdir(root);
    await mkdir(state);
    await chmod(root, 0o755);
    await chmod(state, 0o777);
    await run(root, state);
    expect((await modeOf(root)).toString(8)).toBe('700');
    expect((await modeOf(state)).toString(8)).toBe('711');
    const w = warnings();
    expect(w).toHaveLength(2);
    expect(w[0]).toContain('root directory');
    expect(w[0]).toContain(root);
    expect(w[0]).toContain('"from":"0755","to":"0700"');
    expect(w[1]).toContain('state directory');
    expect(w[1]).toContain('"from":"0777","to":"0711"');
  });

  it('never loosens a directory that is already tighter', async () => {
    const root = join(dir, 'root');
    const state = join(dir, 'state');
    await mkdir(root);
    await mkdir(state);
    await chmod(root, 0o500);
    await chmod(state, 0o700);
    await run(root, state);
    expect((await modeOf(root)).toString(8)).toBe('500');
    expect((await modeOf(state)).toString(8)).toBe('700');
    expect(warnings()).toEqual([]);
  });

  it('refuses root and state at the same path', async () => {
    const same = join(dir, 'both');
    await expect(run(same, same)).rejects.toThrow('root and state must be different paths');
  });
});

describe('one daemon per root', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'daemon-lock-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const daemonOn = (socket: string) =>
    createDaemon({
      plugins: [],
      config: daemonConfigSchema.parse({ root: join(dir, 'root'), state: join(dir, `state-${socket}`), grpc: { address: join(dir, `${socket}.sock`) } }),
      log: recordingLogger([]),
    });

  it('refuses a second daemon on a held root before serving, naming the root and the holder', async () => {
    const first = daemonOn('a');
    await first.start();
    const second = daemonOn('b');
    try {
      await expect(second.start()).rejects.toThrow(`root directory ${join(dir, 'root')} is in use by another daemon (pid ${process.pid})`);
      await expect(stat(join(dir, 'b.sock'))).rejects.toThrow(/ENOENT/);
      await expect(stat(join(dir, 'state-b'))).rejects.toThrow(/ENOENT/);
    } finally {
      await second.stop();
      await first.stop();
    }
    // released on stop: the root can be used again
    const third = daemonOn('c');
    await third.start();
    await third.stop();
  });
});
