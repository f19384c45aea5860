// Issue 9: the ttrpc events service at `[ttrpc] address` (default `<grpc address>.ttrpc`),
// where shims forward their events. The same envelopes are forwarded over ttrpc to
// containerd-ts and to Debian's containerd; `ctr events` on each must print the same lines,
// and bad envelopes get the same InvalidArgument answers (the daemon keeps serving).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { packAny } from '@containerd-ts/api';
import { TaskExit, TaskOOM } from '@containerd-ts/api/events/task';
import { EventsService as TtrpcEvents, type Envelope } from '@containerd-ts/api/services/ttrpc-events';
import { GrpcCode } from '@containerd-ts/errdefs';
import { fromDate } from '@containerd-ts/timestamp';
import { TtrpcClient, type TtrpcStatusError, serviceClient } from '@containerd-ts/ttrpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedDaemon, ctr, referenceConfig, startDaemon, startReference } from './harness.js';

type Reference = Awaited<ReturnType<typeof startReference>>;

/** `ctr events` in the background, its lines collected. */
class EventFollower {
  readonly lines: string[] = [];
  private readonly child: ChildProcess;
  private partial = '';
  constructor(socket: string) {
    this.child = spawn('ctr', ['-a', socket, 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (d: Buffer) => {
      const parts = (this.partial + d.toString()).split('\n');
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts);
    });
  }
  async waitFor(text: string, ms = 10_000): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (this.lines.some((l) => l.includes(text))) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }
  stop(): void {
    this.child.kill('SIGTERM');
  }
}

const exit = TaskExit.fromPartial({ containerId: 'web', id: 'web', pid: 4242, exitStatus: 3, exitedAt: fromDate(new Date('2026-01-02T03:04:05.678Z')) });
const envelopes: Envelope[] = [
  { timestamp: fromDate(new Date('2026-05-06T07:08:09.123Z')), namespace: 'shim-ns', topic: '/tasks/exit', event: packAny(TaskExit, exit) },
  { timestamp: fromDate(new Date('2026-05-06T07:08:10.000Z')), namespace: 'other', topic: '/tasks/oom', event: packAny(TaskOOM, { containerId: 'db' }) },
];
const good = envelopes[0]!;
const badEnvelopes: Envelope[] = [
  { ...good, namespace: '' },
  { ...good, namespace: 'no spaces' },
  { ...good, topic: 'tasks/exit' },
  { ...good, topic: '/' },
  { ...good, topic: '/tasks/bad topic' },
  { ...good, timestamp: undefined },
];

interface Session {
  lines: string[];
  errors: Array<{ code: number | undefined; message: string }>;
}

/** Forwards the envelopes (good, then bad, then the marker) over ttrpc and collects what `ctr events` printed. */
async function session(socket: string): Promise<Session> {
  const follower = new EventFollower(socket);
  const client = await TtrpcClient.connect(`${socket}.ttrpc`);
  try {
    // the subscription is live once ctr prints an event published after it started
    let ready = false;
    for (let i = 0; i < 50 && !ready; i++) {
      expect((await ctr(socket, 'namespaces', 'create', `probe${i}`)).code).toBe(0);
      ready = await follower.waitFor(`probe${i}`, 400);
    }
    expect(ready).toBe(true);
    const events = serviceClient(client, TtrpcEvents);
    // what a shim sends: the namespace in containerd-namespace-ttrpc, a deadline
    for (const envelope of envelopes) {
      await events.forward({ envelope }, { metadata: { 'containerd-namespace-ttrpc': envelope.namespace }, timeoutMs: 5000 });
    }
    const errors: Session['errors'] = [];
    for (const envelope of badEnvelopes) {
      const err = (await events.forward({ envelope }, { timeoutMs: 5000 }).then(
        () => undefined,
        (e: unknown) => e,
      )) as TtrpcStatusError | undefined;
      errors.push({ code: err?.code, message: err?.message ?? 'no error' });
    }
    await events.forward({ envelope: { ...good, topic: '/marker/done' } });
    expect(await follower.waitFor('/marker/done')).toBe(true);
    return { lines: follower.lines.filter((l) => !l.includes('/namespaces/create')), errors };
  } finally {
    follower.stop();
    await client.close();
  }
}

describe('ttrpc events service', () => {
  let ts: StartedDaemon | undefined;
  let ref: Reference | undefined;
  beforeAll(async () => {
    [ts, ref] = await Promise.all([startDaemon(), startReference({ config: referenceConfig() })]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([ts?.cleanup(), ref?.stop()]);
  });

  it('serves <grpc address>.ttrpc with mode 0660', () => {
    const st = statSync(`${ts!.socket}.ttrpc`);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o660);
  });

  it('forwarded envelopes reach `ctr events` as on containerd; bad ones get the same InvalidArgument', async () => {
    const ours = await session(ts!.socket);
    const theirs = await session(ref!.socket);
    // containerd's lines: Go's time of the envelope (as forwarded), namespace, topic, event JSON
    expect(ours.lines[0]).toBe(
      '2026-05-06 07:08:09.123 +0000 UTC shim-ns /tasks/exit {"container_id":"web","id":"web","pid":4242,"exit_status":3,"exited_at":"2026-01-02T03:04:05.678Z"}',
    );
    expect(ours.lines).toEqual(theirs.lines);
    expect(ours.lines).toHaveLength(3);
    expect(ours.errors.every((e) => e.code === GrpcCode.INVALID_ARGUMENT)).toBe(true);
    expect(ours.errors).toEqual(theirs.errors);
    // still serving gRPC after the bad requests
    expect((await ctr(ts!.socket, 'version')).code).toBe(0);
  });

  it('removes the ttrpc socket on shutdown', async () => {
    const path = `${ts!.socket}.ttrpc`;
    expect(existsSync(path)).toBe(true);
    const { code } = await ts!.stop();
    expect(code).toBe(0);
    expect(existsSync(path)).toBe(false);
    expect(existsSync(ts!.socket)).toBe(false);
  });
});
