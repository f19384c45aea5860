// The same ctr command lines run with Debian's ctr and with ctr-ts, each client in a
// namespace of its own, on containerd-ts and on Debian's containerd: the two daemons, the
// busybox test image pulled into every namespace, each step's expansion (`{id}` is the
// client's container tag, `{name}` a variable), its output normalised for comparison, and
// the comparison of a whole session step by step.
import { expect } from 'vitest';
import { type ImageSource, pullInto, removeContainers, serveBusybox } from './containers-run.js';
import { type RunResult, type StartedDaemon, ctrTs, run, startDaemon, startReference } from './harness.js';

/** A run's output, error output and exit code as one text. */
export const outputText = (r: RunResult): string => `${r.stdout}--stderr--\n${r.stderr}--exit ${r.code}`;

/**
 * Output made comparable: each of `dirs` read as `<dir>`, label lists sorted, times and ages
 * replaced, `ctr-ts:` read as `ctr:` (ctr-ts's error lines name the program as ctr's do).
 */
export function comparableOutput(out: string, dirs: readonly string[] = []): string {
  let s = out;
  for (const d of dirs) s = s.replaceAll(d, '<dir>');
  return s
    .replaceAll('ctr-ts: ', 'ctr: ')
    .split('\n')
    .map((line) => line.replace(/([\w./-]+=[^\s,]*(?:,[\w./-]+=[^\s,]*)+)/g, (m) => m.split(',').sort().join(',')))
    .join('\n')
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})/g, '<time>')
    .replace(/Less than a second|About a minute|\d+ (?:seconds?|minutes?)/g, '<age>')
    .replace(/\t+/g, '\t');
}

/**
 * An --http-dump text made comparable: the `Date` header, the User-Agent value (ctr-ts
 * sends its own) and what differs from one bearer token to the next (the token, its issue
 * time) made neutral.
 */
export const neutralDump = (text: string): string =>
  text
    .replace(/Date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT/g, 'Date: <date>')
    .replace(/User-Agent: (containerd\/1\.6\.20~ds1|containerd-ts\/1\.6)"/g, 'User-Agent: <agent>"')
    .replace(/Authorization: Bearer [\w.-]+/g, 'Authorization: Bearer <token>')
    .replace(/(\\"access_token\\":\\")[\w.-]+/g, '$1<token>')
    .replace(/(\\"issued_at\\":\\")[^\\]+/g, '$1<time>');

/**
 * The log lines of a registry command's stderr under --http-dump, each made neutral
 * (`neutralDump`, its time too). ctr's progress loop may log its own cancellation when the
 * fetch ends: that line is not the dump's and is left out.
 */
export const httpDumpLines = (stderr: string): string[] =>
  stderr
    .split('\n')
    .filter((l) => l !== '' && !/msg="(failed to get content info|active check failed)" error="context canceled"/.test(l))
    .map((l) => neutralDump(l.replace(/^time="[^"]*"/, 'time=<time>')));

/**
 * Asserts that ctr-ts's --http-dump lines are ctr's, line for line. A dump that ends inside
 * a body without a final newline leaves its last line unfinished in logrus's Writer: ctr
 * logs it only when Go's GC finalises that Writer (closing its pipe) before ctr exits, which
 * happens in some runs and not in others; ctr-ts, like ctr without that collection, never
 * logs it. So ctr's dump may have that one line more.
 */
export function expectSameDump(ours: readonly string[], ctrLines: readonly string[], name: string): void {
  const theirs = ctrLines.length === ours.length + 1 ? ctrLines.slice(0, -1) : ctrLines;
  const firstDiff = ours.findIndex((l, i) => l !== theirs[i]);
  expect({ at: firstDiff, ours: ours[firstDiff]?.slice(0, 300), theirs: theirs[firstDiff]?.slice(0, 300), lengths: [ours.length, theirs.length] }, name).toEqual({
    at: -1,
    ours: undefined,
    theirs: undefined,
    lengths: [theirs.length, theirs.length],
  });
}

export type Client = 'ctr' | 'ctr-ts';
export const CLIENTS: readonly Client[] = ['ctr', 'ctr-ts'];

export interface SessionDaemon {
  name: 'containerd-ts' | 'containerd';
  socket: string;
  namespaces: Record<Client, string>;
}

export interface Sessions {
  ts: StartedDaemon;
  ref: Awaited<ReturnType<typeof startReference>>;
  image: ImageSource;
  /** containerd-ts first, then containerd. */
  daemons: SessionDaemon[];
  /** A client's container tag (unique to this test process), what `{id}` expands to. */
  tag(client: Client): string;
  /** Runs one step as `client` on `d`, in the client's namespace, with stdin closed. */
  run(client: Client, d: SessionDaemon, args: readonly string[], vars?: Readonly<Record<string, string>>): Promise<RunResult>;
  /** Output, error and exit code as one text, with names, tags, times (and pids) made neutral. */
  normalize(r: RunResult, client: Client, d: SessionDaemon): string;
  /**
   * Runs every step with ctr, then with ctr-ts, on `d`; gives the steps whose normalised
   * results differ (empty when the sessions agree). `check` sees each step's ctr-ts result.
   */
  compare(d: SessionDaemon, steps: readonly (readonly string[])[], vars: Readonly<Record<string, string>>, check?: (args: readonly string[], ours: RunResult) => void): Promise<string[]>;
  /** Removes the named containers (each `<name>-<tag>`) of both clients, stops both daemons and the registry. */
  stop(names: readonly string[]): Promise<void>;
}

/**
 * A `tasks ls` result with its rows sorted (the header kept first): containerd lists tasks
 * from a Go map, in an order that changes from call to call; every other list is in key order.
 */
function inListOrder(args: readonly string[], r: RunResult): RunResult {
  if (args[0] !== 'tasks' || (args[1] !== 'ls' && args[1] !== 'list')) return r;
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  const header = lines[0]?.startsWith('TASK') ? lines.splice(0, 1) : [];
  return { ...r, stdout: [...header, ...lines.sort()].map((l) => `${l}\n`).join('') };
}

/**
 * Starts both daemons and the busybox registry and pulls the image into the four namespaces
 * `<namespace>{ts,ref}-{go,ts}-<pid>`. Container tags are `<tag>{go,ts}<pid>`. With
 * `pids`, runs of 3–7 digits are normalised too (pids that differ from run to run); `env`
 * gives a daemon an environment of its own.
 */
export async function startSessions(options: {
  namespace: string;
  tag: string;
  pids?: boolean;
  /** Environment of each daemon (default: this process's). */
  env?: Partial<Record<SessionDaemon['name'], NodeJS.ProcessEnv>>;
}): Promise<Sessions> {
  const pid = process.pid;
  const tag = (client: Client) => `${options.tag}${client === 'ctr' ? 'go' : 'ts'}${pid}`;
  const image = await serveBusybox();
  const [ts, ref] = await Promise.all([startDaemon({ env: options.env?.['containerd-ts'] }), startReference({ env: options.env?.containerd })]);
  const daemons: SessionDaemon[] = [
    { name: 'containerd-ts', socket: ts.socket, namespaces: { ctr: `${options.namespace}ts-go-${pid}`, 'ctr-ts': `${options.namespace}ts-ts-${pid}` } },
    { name: 'containerd', socket: ref.socket, namespaces: { ctr: `${options.namespace}ref-go-${pid}`, 'ctr-ts': `${options.namespace}ref-ts-${pid}` } },
  ];
  for (const d of daemons) for (const ns of Object.values(d.namespaces)) await pullInto(d.socket, ns, image.ref);

  const runAs: Sessions['run'] = (client, d, args, vars = {}) => {
    const expanded = args.map((a) => {
      let s = a.replaceAll('{id}', tag(client));
      for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, v);
      return s;
    });
    return run(client === 'ctr' ? 'ctr' : ctrTs, ['-a', d.socket, '-n', d.namespaces[client], ...expanded], { input: '', timeoutMs: 60_000 });
  };
  const normalize: Sessions['normalize'] = (r, client, d) => {
    let text = `${r.stdout}\n--stderr--\n${r.stderr}\n--exit ${r.code}`;
    if (client === 'ctr-ts') text = text.replaceAll('ctr-ts: ', 'ctr: ');
    text = text
      .replaceAll(d.namespaces[client], '<ns>')
      .replaceAll(tag(client), '<id>')
      .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})/g, '<time>')
      .replace(/time="[^"]*"/g, 'time=<time>');
    // PIDs, and their widths in the padding of table columns (pids wrap at 32768 here: 4 digits against 5).
    return options.pids ? text.replace(/\b\d{3,7}\b/g, '<pid>').replace(/ {2,}/g, '  ') : text;
  };
  return {
    ts,
    ref,
    image,
    daemons,
    tag,
    run: runAs,
    normalize,
    async compare(d, steps, vars, check) {
      const differing: string[] = [];
      for (const args of steps) {
        const theirs = inListOrder(args, await runAs('ctr', d, args, vars));
        const ours = inListOrder(args, await runAs('ctr-ts', d, args, vars));
        const [a, b] = [normalize(theirs, 'ctr', d), normalize(ours, 'ctr-ts', d)];
        if (a !== b) differing.push(`${d.name}: ${args.join(' ')}\n${a}\n≠\n${b}`);
        check?.(args, ours);
      }
      return differing;
    },
    async stop(names) {
      for (const d of daemons) {
        for (const client of CLIENTS) await removeContainers(d.socket, d.namespaces[client], names.map((n) => `${n}-${tag(client)}`), { concurrent: true });
      }
      await ts.cleanup();
      await ref.stop();
      await image.registry.stop();
    },
  };
}
