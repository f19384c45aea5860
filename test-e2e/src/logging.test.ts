// The daemon's stderr, compared with the reference containerd's (logrus): text lines unless
// `[debug] format = "json"`, coloured `INFO[<time>]` lines on a terminal, `[debug] level`
// and --log-level honoured.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { containerdTs, ctr, referenceConfig, type Service, spawnService, type StartedDaemon, startDaemon, startReference } from './harness.js';

const time = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}(?:Z|[+-]\\d\\d:\\d\\d)';
const value = '(?:[A-Za-z0-9\\-._/@^+]*|"(?:[^"\\\\]|\\\\.)*")';
const level = '(?:trace|debug|info|warning|error|fatal|panic)';
/** One logrus TextFormatter line as containerd configures it (not a terminal). */
const textLine = new RegExp(`^time="${time}" level=${level}(?: msg=${value})?(?: [\\w.-]+=${value})*$`);
/** The terminal form: coloured level abbreviation, time, message padded to 44, coloured keys. */
const ttyLine = new RegExp(
  `^\\x1b\\[(3[1367])m(?:TRAC|DEBU|INFO|WARN|ERRO|FATA|PANI)\\x1b\\[0m\\[${time}\\] .{44,} (?: \\x1b\\[\\1m[\\w.-]+\\x1b\\[0m=${value})*$`,
);

const lines = (text: string): string[] => text.split(/\r?\n/).filter((l) => l !== '');

let daemon: StartedDaemon | undefined;
let reference: Awaited<ReturnType<typeof startReference>> | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await daemon?.cleanup();
  daemon = undefined;
  await reference?.stop();
  reference = undefined;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** Stops a daemon with SIGTERM and returns everything it wrote. */
async function stopAndRead(d: StartedDaemon): Promise<string> {
  expect((await d.stop()).code).toBe(0);
  return d.logs();
}

describe('daemon log format', () => {
  it('is logrus text by default, the shape of the reference containerd’s lines', async () => {
    daemon = await startDaemon({ config: 'version = 2\n' });
    const ours = lines(await stopAndRead(daemon));
    expect(ours.length).toBeGreaterThan(3);
    for (const l of ours) expect(l).toMatch(textLine);
    expect(ours).toContainEqual(expect.stringMatching(new RegExp(` level=info msg=serving address=${daemon.socket}$`)));
    expect(ours).toContainEqual(expect.stringMatching(/ level=info msg="received signal, stopping" signal=SIGTERM$/));
    expect(ours.some((l) => l.includes(' level=debug '))).toBe(false);

    reference = await startReference({ config: referenceConfig() });
    const theirs = lines(reference.logs());
    expect(theirs.length).toBeGreaterThan(3);
    for (const l of theirs) expect(l).toMatch(textLine);
  });

  it('is one JSON object per line with [debug] format = "json", keys sorted as logrus writes them', async () => {
    daemon = await startDaemon({ config: 'version = 2\n[debug]\n  format = "json"\n' });
    const ours = lines(await stopAndRead(daemon)).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(ours.length).toBeGreaterThan(3);
    for (const o of ours) {
      expect(Object.keys(o)).toEqual(Object.keys(o).sort());
      expect(o).toEqual(expect.objectContaining({ level: expect.stringMatching(new RegExp(`^${level}$`)), msg: expect.any(String) }));
      expect(o.time).toMatch(new RegExp(`^${time}$`));
    }
    expect(ours).toContainEqual({ address: daemon.socket, level: 'info', msg: 'serving', time: expect.any(String) });

    reference = await startReference({ config: referenceConfig('[debug]', '  format = "json"') });
    const theirs = lines(reference.logs()).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(theirs.length).toBeGreaterThan(3);
    for (const o of theirs) expect(Object.keys(o)).toEqual(expect.arrayContaining(['level', 'msg', 'time']));
  });

  it('honours [debug] level, and --log-level over it', async () => {
    daemon = await startDaemon({ config: 'version = 2\n[debug]\n  level = "debug"\n' });
    const debug = lines(await stopAndRead(daemon));
    expect(debug.some((l) => / level=debug msg=/.test(l))).toBe(true);
    await daemon.cleanup();

    daemon = await startDaemon({ config: 'version = 2\n[debug]\n  level = "debug"\n', args: ['--log-level', 'warn'] });
    const warn = lines(await stopAndRead(daemon));
    for (const l of warn) expect(l).toMatch(/ level=(?:warning|error) /);
  });
});

/**
 * Runs `argv` with a pseudo-terminal as its stdout and stderr (script(1)), writing its pid
 * to `dir`/pid so it can be stopped by pid; the service's logs are what the terminal showed.
 */
function onTerminal(argv: string[], dir: string): { service: Service; pid: () => Promise<number> } {
  const pidFile = join(dir, 'pid');
  const quoted = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const service = spawnService('script', ['-qfec', `echo $$ > '${pidFile}'; exec ${quoted}`, '/dev/null']);
  return {
    service,
    pid: async () => {
      for (let i = 0; i < 200 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 25));
      return Number((await readFile(pidFile, 'utf8')).trim());
    },
  };
}

async function untilAnswers(socket: string, service: Service): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (service.child.exitCode !== null) throw new Error(`exited: ${service.logs()}`);
    if ((await ctr(socket, 'version')).code === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no answer on ${socket}: ${service.logs()}`);
}

describe('daemon log format on a terminal', () => {
  it('is coloured INFO[<time>] lines, as the reference containerd writes them', async () => {
    const runs: Record<string, string[]> = {};
    for (const [name, command] of [
      ['containerd-ts', [containerdTs]],
      ['containerd', ['containerd']],
    ] as const) {
      const dir = await mkdtemp(join(tmpdir(), 'logtty-'));
      dirs.push(dir);
      const socket = join(dir, 'containerd.sock');
      const config = join(dir, 'config.toml');
      await writeFile(config, referenceConfig().replaceAll('{{dir}}', dir));
      const run = onTerminal([...command, '--config', config], dir);
      try {
        await untilAnswers(socket, run.service);
      } finally {
        process.kill(await run.pid(), 'SIGTERM');
        await run.service.exited;
      }
      runs[name] = lines(run.service.logs());
    }
    for (const [name, out] of Object.entries(runs)) {
      expect(out.length, name).toBeGreaterThan(3);
      for (const l of out) expect(l, name).toMatch(ttyLine);
      expect(out.some((l) => l.startsWith('\x1b[36mINFO\x1b[0m[')), name).toBe(true);
    }
    const serving = new RegExp(`^\\x1b\\[36mINFO\\x1b\\[0m\\[${time}\\] ${'serving'.padEnd(44)}  \\x1b\\[36maddress\\x1b\\[0m=\\S+\\.sock$`);
    expect(runs['containerd-ts']).toContainEqual(expect.stringMatching(serving));
  });
});
