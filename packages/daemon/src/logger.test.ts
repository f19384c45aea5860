import { execFile } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, isLogLevel, type LoggerOptions } from './logger.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'daemon-logger-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Logs through a logger writing to a real file and returns what it wrote. */
function capture(level: string, options: LoggerOptions, use: (log: ReturnType<typeof createLogger>) => void): string[] {
  const file = join(dir, 'log');
  const fd = openSync(file, 'w');
  try {
    use(createLogger(level, { ...options, fd }));
  } finally {
    closeSync(fd);
  }
  return readFileSync(file, 'utf8').split('\n').slice(0, -1);
}

const timeRe = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}(?:Z|[+-]\\d\\d:\\d\\d)';

describe('createLogger', () => {
  it('writes logrus text lines by default, at info and above, with bindings and fields', () => {
    const lines = capture('', {}, (log) => {
      log.debug({ hidden: true }, 'not shown');
      log.info({ address: '/run/x.sock' }, 'serving');
      log.child({ plugin: 'io.containerd.content.v1.content' }).warn({ error: 'disk full' }, 'failed to write');
      log.error('plain message');
      log.info(new Error('it broke'));
    });
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(new RegExp(`^time="${timeRe}" level=info msg=serving address=/run/x.sock$`));
    expect(lines[1]).toMatch(/ level=warning msg="failed to write" error="disk full" plugin=io.containerd.content.v1.content$/);
    expect(lines[2]).toMatch(/ level=error msg="plain message"$/);
    expect(lines[3]).toMatch(/ level=info msg="it broke" error="it broke"$/);
  });

  it('writes JSON lines with format json, keys sorted', () => {
    const lines = capture('debug', { format: 'json' }, (log) => {
      log.trace({}, 'not shown');
      log.debug({ id: 'x' }, 'loaded plugin');
    });
    expect(lines).toHaveLength(1);
    const obj = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    expect(Object.keys(obj)).toEqual(['id', 'level', 'msg', 'time']);
    expect(obj).toMatchObject({ id: 'x', level: 'debug', msg: 'loaded plugin' });
    expect(obj.time).toMatch(new RegExp(`^${timeRe}$`));
  });

  it('honours every containerd level name', () => {
    const at = (level: string) =>
      capture(level, {}, (log) => {
        log.trace({}, 't');
        log.debug({}, 'd');
        log.info({}, 'i');
        log.warn({}, 'w');
        log.error({}, 'e');
      }).map((l) => / level=(\w+)/.exec(l)?.[1]);
    expect(at('trace')).toEqual(['trace', 'debug', 'info', 'warning', 'error']);
    expect(at('info')).toEqual(['info', 'warning', 'error']);
    expect(at('warn')).toEqual(['warning', 'error']);
    expect(at('warning')).toEqual(['warning', 'error']);
    expect(at('fatal')).toEqual([]);
    expect(isLogLevel('panic') && isLogLevel('warning') && !isLogLevel('verbose') && !isLogLevel('toString')).toBe(true);
    expect(() => createLogger('verbose')).toThrow('invalid log level "verbose"');
  });

  it('colours text on a terminal, and never JSON', () => {
    const tty = capture('', { tty: true }, (log) => log.info({ a: 1 }, 'hello'));
    expect(tty[0]).toMatch(new RegExp(`^\\x1b\\[36mINFO\\x1b\\[0m\\[${timeRe}\\] hello {39}  \\x1b\\[36ma\\x1b\\[0m=1$`));
    const json = capture('', { tty: true, format: 'json' }, (log) => log.info({}, 'hello'));
    expect(JSON.parse(json[0] ?? '')).toMatchObject({ level: 'info', msg: 'hello' });
  });

  it('times lines with nanoseconds that follow the wall clock and never go back', () => {
    const before = Date.now();
    const lines = capture('', { format: 'json' }, (log) => {
      for (let i = 0; i < 50; i++) log.info({}, 'tick');
    });
    const after = Date.now();
    const times = lines.map((l) => (JSON.parse(l) as { time: string }).time);
    for (const [i, time] of times.entries()) {
      const ms = Date.parse(time);
      expect(ms).toBeGreaterThanOrEqual(before - 2);
      expect(ms).toBeLessThanOrEqual(after + 2);
      if (i > 0) expect(time >= (times[i - 1] ?? '')).toBe(true);
    }
    expect(new Set(times).size).toBe(times.length);
  });

  it('finds out by itself that stderr is a terminal', async () => {
    // A real pseudo-terminal from script(1): the child's stderr is the pty.
    const child = join(dir, 'child.mjs');
    const logger = new URL('../dist/logger.js', import.meta.url);
    // The child runs the built package (dist/), which `turbo run test` builds first.
    const built = (await stat(logger)).mtimeMs;
    for (const name of ['logger.ts', 'log-format.ts']) {
      if ((await stat(new URL(name, import.meta.url))).mtimeMs > built) throw new Error(`dist/ is older than src/${name}: build first`);
    }
    await writeFile(
      child,
      `import { createLogger } from ${JSON.stringify(fileURLToPath(logger))};\ncreateLogger('info').info({ k: 'v' }, 'on a tty');\n`,
    );
    const { stdout } = await promisify(execFile)('script', ['-qec', `${process.execPath} ${child}`, '/dev/null']);
    expect(stdout).toMatch(new RegExp(`\\x1b\\[36mINFO\\x1b\\[0m\\[${timeRe}\\] ${'on a tty'.padEnd(44)}  \\x1b\\[36mk\\x1b\\[0m=v\\r\\n$`));
    const piped = await promisify(execFile)(process.execPath, [child]);
    expect(piped.stderr).toMatch(/^time="[^"]+" level=info msg="on a tty" k=v\n$/);
  });
});
