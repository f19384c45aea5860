// The Tasks gRPC API over the real v2 runtime (Debian's containerd-shim-runc-v2 and runc):
// bad input answered with the gRPC codes and messages containerd 1.6 gives for the same
// requests (unknown container, duplicate task, exec id reuse, start of a running task,
// kill of a stopped one, invalid specs and options), the /tasks/* events the shims
// forward, and nothing left behind.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUNTIME_SPEC_TYPE_URLS, packAny } from '@containerd-ts/api';
import { CheckpointOptions, Options as RuncOptions } from '@containerd-ts/api/runtime/runc-options';
import { TasksService as Api, type CreateTaskRequest } from '@containerd-ts/api/services/tasks';
import { Status } from '@containerd-ts/api/types/task';
import type { Connection } from '@containerd-ts/client';
import { failureCode as failure } from '@containerd-ts/errdefs/testing';
import { putBlob } from '@containerd-ts/service-testing';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type TestEnv, createEnv } from './testing/env.js';

let env: TestEnv;
let seq = 0;
let ns: string;
beforeEach(async () => {
  env = await createEnv();
  ns = `tasks-unit-${process.pid}-${seq++}`;
});
afterEach(async () => env.cleanup(), 30_000);

/** The gRPC code and message a call failed with. */
const io = { stdin: '', stdout: '', stderr: '', terminal: false };
const createRequest = (containerId: string, fields: Partial<CreateTaskRequest> = {}): CreateTaskRequest => ({
  containerId,
  rootfs: [],
  ...io,
  checkpoint: undefined,
  options: undefined,
  runtimePath: '',
  ...fields,
});

const NOT_FOUND = 5;
const UNKNOWN = 2;

/** A started task `id` running `sleep 1000`. */
async function running(c: Connection, id: string): Promise<number> {
  await env.createContainer(ns, id, ['sleep', '1000']);
  await c.unary(Api.create, createRequest(id));
  return (await c.unary(Api.start, { containerId: id, execId: '' })).pid;
}

const processSpec = (id: string, args: string[]) => ({
  typeUrl: RUNTIME_SPEC_TYPE_URLS.Process,
  value: Buffer.from(JSON.stringify({ ...env.spec(ns, id, args).process })),
});

describe('tasks service: bad input as containerd answers it', () => {
  it('unknown container, duplicate task, start of a running task, delete of a running one', async () => {
    const c = env.connect(ns);
    expect(await failure(c.unary(Api.create, createRequest('nope')))).toEqual({
      code: NOT_FOUND,
      message: `container "nope" in namespace "${ns}": not found`,
    });
    const pid = await running(c, 'c1');
    expect(pid).toBeGreaterThan(1);
    expect(await failure(c.unary(Api.create, createRequest('c1')))).toEqual({ code: 6, message: 'task c1: already exists' });
    expect(await failure(c.unary(Api.start, { containerId: 'c1', execId: '' }))).toEqual({
      code: UNKNOWN,
      message: 'cannot start a running process: unknown',
    });
    expect(await failure(c.unary(Api.delete, { containerId: 'c1' }))).toEqual({
      code: UNKNOWN,
      message: 'failed to delete task: cannot delete a running process: unknown',
    });
    expect(await failure(c.unary(Api.deleteProcess, { containerId: 'c1', execId: '' }))).toEqual({
      code: UNKNOWN,
      message: 'cannot delete a running process: unknown',
    });
    // The task is untouched by all of it.
    const got = await c.unary(Api.get, { containerId: 'c1', execId: '' });
    expect(got.process).toMatchObject({ id: 'c1', pid, status: Status.RUNNING });
    expect((await c.unary(Api.list, { filter: '' })).tasks.map((t) => t.id)).toEqual(['c1']);
    await c.unary(Api.kill, { containerId: 'c1', execId: '', signal: 9, all: false });
    expect((await c.unary(Api.wait, { containerId: 'c1', execId: '' })).exitStatus).toBe(137);
    expect(await c.unary(Api.delete, { containerId: 'c1' })).toMatchObject({ pid, exitStatus: 137 });
    expect(await env.leftovers(ns)).toEqual([]);
  }, 60_000);

  it('exec id reuse, an empty exec id, unknown exec ids', async () => {
    const c = env.connect(ns);
    await running(c, 'c2');
    const spec = processSpec('c2', ['sleep', '1000']);
    await c.unary(Api.exec, { containerId: 'c2', execId: 'e1', ...io, spec });
    expect(await failure(c.unary(Api.exec, { containerId: 'c2', execId: 'e1', ...io, spec }))).toEqual({ code: 6, message: 'id e1: already exists' });
    expect(await failure(c.unary(Api.exec, { containerId: 'c2', execId: '', ...io, spec }))).toEqual({ code: 3, message: 'exec id cannot be empty' });
    expect(await failure(c.unary(Api.kill, { containerId: 'c2', execId: 'e1', signal: 15, all: false }))).toEqual({
      code: 9,
      message: 'process not created: failed precondition',
    });
    const notExist = { code: NOT_FOUND, message: 'process does not exist zz: not found' };
    expect(await failure(c.unary(Api.start, { containerId: 'c2', execId: 'zz' }))).toEqual(notExist);
    expect(await failure(c.unary(Api.kill, { containerId: 'c2', execId: 'zz', signal: 9, all: false }))).toEqual(notExist);
    expect(await failure(c.unary(Api.get, { containerId: 'c2', execId: 'zz' }))).toEqual(notExist);
    expect(await failure(c.unary(Api.wait, { containerId: 'c2', execId: 'zz' }))).toEqual(notExist);
    await c.unary(Api.start, { containerId: 'c2', execId: 'e1' });
    expect(await failure(c.unary(Api.start, { containerId: 'c2', execId: 'e1' }))).toEqual({
      code: UNKNOWN,
      message: 'cannot start a running process: unknown',
    });
    expect(await failure(c.unary(Api.deleteProcess, { containerId: 'c2', execId: 'e1' }))).toEqual({
      code: UNKNOWN,
      message: 'cannot delete a running process: unknown',
    });
    await c.unary(Api.kill, { containerId: 'c2', execId: '', signal: 9, all: true });
    await c.unary(Api.wait, { containerId: 'c2', execId: '' });
    await c.unary(Api.delete, { containerId: 'c2' });
    expect(await env.leftovers(ns)).toEqual([]);
  }, 60_000);

  it('kill, start, exec, pause of a stopped task; calls on a deleted one', async () => {
    const c = env.connect(ns);
    await running(c, 'c3');
    await c.unary(Api.kill, { containerId: 'c3', execId: '', signal: 9, all: false });
    const exit = await c.unary(Api.wait, { containerId: 'c3', execId: '' });
    expect(exit.exitStatus).toBe(137);
    expect(await failure(c.unary(Api.kill, { containerId: 'c3', execId: '', signal: 9, all: false }))).toEqual({
      code: NOT_FOUND,
      message: 'process already finished: not found',
    });
    // containerd's shim answers a kill of all processes of a stopped task with success.
    await c.unary(Api.kill, { containerId: 'c3', execId: '', signal: 9, all: true });
    const unknown = (message: string) => ({ code: UNKNOWN, message: `${message}: unknown` });
    expect(await failure(c.unary(Api.start, { containerId: 'c3', execId: '' }))).toEqual(unknown('cannot start a stopped process'));
    expect(await failure(c.unary(Api.exec, { containerId: 'c3', execId: 'e9', ...io, spec: processSpec('c3', ['true']) }))).toEqual(
      unknown('cannot exec in a stopped state'),
    );
    expect(await failure(c.unary(Api.pause, { containerId: 'c3' }))).toEqual(unknown('cannot pause a stopped container'));
    expect(await failure(c.unary(Api.resume, { containerId: 'c3' }))).toEqual(unknown('cannot resume a stopped container'));
    expect((await c.unary(Api.get, { containerId: 'c3', execId: '' })).process).toMatchObject({ status: Status.STOPPED, exitStatus: 137 });
    const deleted = await c.unary(Api.delete, { containerId: 'c3' });
    expect(deleted.exitStatus).toBe(137);
    expect(deleted.exitedAt).toEqual(exit.exitedAt);
    const gone = { code: NOT_FOUND, message: 'task c3 not found' };
    expect(await failure(c.unary(Api.delete, { containerId: 'c3' }))).toEqual(gone);
    expect(await failure(c.unary(Api.get, { containerId: 'c3', execId: '' }))).toEqual(gone);
    expect(await failure(c.unary(Api.kill, { containerId: 'c3', execId: '', signal: 9, all: false }))).toEqual(gone);
    expect(await failure(c.unary(Api.wait, { containerId: 'c3', execId: '' }))).toEqual(gone);
    expect(await env.leftovers(ns)).toEqual([]);
  }, 60_000);

  it('invalid specs fail as on containerd and leave no shim, bundle or runc state', async () => {
    const c = env.connect(ns);
    const specAny = (value: string) => ({ spec: { typeUrl: RUNTIME_SPEC_TYPE_URLS.Spec, value: Buffer.from(value) } });
    const base = env.spec(ns, 'x', ['true']);
    const cases: [string, string, { code: number; message: string }][] = [
      ['cut', '{', { code: UNKNOWN, message: 'failed to start shim: unexpected end of JSON input' }],
      ['garbage', 'x', { code: UNKNOWN, message: "failed to start shim: invalid character 'x' looking for beginning of value" }],
      [
        'noprocess',
        JSON.stringify({ ...base, process: undefined }),
        { code: UNKNOWN, message: 'failed to create shim task: OCI runtime create failed: runc create failed: process property must not be empty: unknown' },
      ],
      [
        'noargs',
        JSON.stringify({ ...base, process: { ...base.process, args: [] } }),
        { code: UNKNOWN, message: 'failed to create shim task: OCI runtime create failed: runc create failed: args must not be empty: unknown' },
      ],
      [
        'badroot',
        JSON.stringify({ ...base, root: { path: '/nonexistent-root' } }),
        {
          code: UNKNOWN,
          message: 'failed to create shim task: OCI runtime create failed: runc create failed: invalid rootfs: stat /nonexistent-root: no such file or directory: unknown',
        },
      ],
    ];
    for (const [id, spec, expected] of cases) {
      await env.createContainer(ns, id, ['true'], specAny(spec));
      expect(await failure(c.unary(Api.create, createRequest(id))), id).toEqual(expected);
    }
    expect((await c.unary(Api.list, { filter: '' })).tasks).toEqual([]);
    expect(await env.leftovers(ns)).toEqual([]);
  }, 90_000);

  it('task options of the wrong type, unsupported checkpoints, bad metrics filters', async () => {
    const c = env.connect(ns);
    await env.createContainer(ns, 'c4', ['true']);
    expect(await failure(c.unary(Api.create, createRequest('c4', { options: { typeUrl: 'x/y', value: Buffer.from('') } })))).toEqual({
      code: UNKNOWN,
      message: 'type with url x/y: not found',
    });
    const checkpointOptions = packAny(CheckpointOptions, CheckpointOptions.fromPartial({ imagePath: '/x' }));
    expect(await failure(c.unary(Api.create, createRequest('c4', { options: checkpointOptions })))).toEqual({
      code: UNKNOWN,
      message: 'invalid task create option for io.containerd.runc.v2',
    });
    const checkpoint = { mediaType: 'x', digest: `sha256:${'0'.repeat(64)}`, size: 1, annotations: {} };
    expect(await failure(c.unary(Api.create, createRequest('c4', { checkpoint })))).toEqual({ code: UNKNOWN, message: 'unsupported checkpoint type "x"' });
    expect(await failure(c.unary(Api.metrics, { filters: ['id=='] }))).toEqual({
      code: UNKNOWN,
      message: 'filters: parse error: [id==]: expected value or quoted: invalid argument',
    });
    // Options of the right type are taken: the task runs and exits.
    const options = packAny(RuncOptions, RuncOptions.fromPartial({}));
    await c.unary(Api.create, createRequest('c4', { options }));
    await c.unary(Api.start, { containerId: 'c4', execId: '' });
    expect((await c.unary(Api.wait, { containerId: 'c4', execId: '' })).exitStatus).toBe(0);
    await c.unary(Api.delete, { containerId: 'c4' });
    expect(await env.leftovers(ns)).toEqual([]);
  }, 60_000);
});

describe('tasks service: restoring from a checkpoint image (Create with a checkpoint descriptor)', () => {
  const CRIU_TAR = 'application/vnd.containerd.container.criu.checkpoint.criu.tar';
  let runtimeDir: string;
  beforeEach(() => {
    // Where the service unpacks a checkpoint, as containerd: $XDG_RUNTIME_DIR/ctrd-checkpoint*.
    runtimeDir = mkdtempSync(join(tmpdir(), 'tasks-xdg-'));
    vi.stubEnv('XDG_RUNTIME_DIR', runtimeDir);
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    rmSync(runtimeDir, { recursive: true, force: true });
  });
  const unpacked = () => readdirSync(runtimeDir);
  /** The service's records of unpacked checkpoints. */
  const recorded = () => {
    try {
      return readdirSync(join(env.serviceState, 'restores'));
    } catch {
      return [];
    }
  };

  /** A tar of `inventory.img` (what criu's image directory holds), as a checkpoint's criu layer. */
  function criuTar(): Buffer {
    const src = mkdtempSync(join(tmpdir(), 'tasks-criu-'));
    try {
      writeFileSync(join(src, 'inventory.img'), 'not a criu image\n');
      return execFileSync('tar', ['-cf', '-', '-C', src, 'inventory.img']);
    } finally {
      rmSync(src, { recursive: true, force: true });
    }
  }

  it('a media type other than the criu tar and an unknown digest fail as on containerd and leave no directory', async () => {
    const c = env.connect(ns);
    await env.createContainer(ns, 'r1', ['sleep', '1000']);
    const digest = `sha256:${'0'.repeat(64)}`;
    const wrongType = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: 1, annotations: {} };
    expect(await failure(c.unary(Api.create, createRequest('r1', { checkpoint: wrongType })))).toEqual({
      code: UNKNOWN,
      message: 'unsupported checkpoint type "application/vnd.oci.image.layer.v1.tar"',
    });
    // containerd reads the blob through the namespaced store and returns its error unclassified.
    const missing = { mediaType: CRIU_TAR, digest, size: 1, annotations: {} };
    expect(await failure(c.unary(Api.create, createRequest('r1', { checkpoint: missing })))).toEqual({
      code: UNKNOWN,
      message: `content digest ${digest}: not found`,
    });
    // A blob of another namespace is not found either.
    const other = await putBlob(env.db, { namespace: `${ns}-other` }, criuTar());
    expect(await failure(c.unary(Api.create, createRequest('r1', { checkpoint: { ...missing, digest: other } })))).toEqual({
      code: UNKNOWN,
      message: `content digest ${other}: not found`,
    });
    // A blob that is not a tar fails in the unpacking.
    const garbage = await putBlob(env.db, { namespace: ns }, Buffer.alloc(1024, 7));
    const bad = await failure(c.unary(Api.create, createRequest('r1', { checkpoint: { ...missing, digest: garbage, size: 1024 } })));
    expect(bad.code).toBe(UNKNOWN);
    expect(unpacked()).toEqual([]);
    expect(recorded()).toEqual([]);
    expect((await c.unary(Api.list, { filter: '' })).tasks).toEqual([]);
    expect(await env.leftovers(ns)).toEqual([]);
  }, 60_000);

  it('unpacks the criu tar for the shim; the restore at Start fails with the shim\'s criu error; delete removes everything', async () => {
    const c = env.connect(ns);
    await env.createContainer(ns, 'r2', ['sleep', '1000']);
    const tar = criuTar();
    const digest = await putBlob(env.db, { namespace: ns }, tar);
    const checkpoint = { mediaType: CRIU_TAR, digest, size: tar.length, annotations: {} };
    const created = await c.unary(Api.create, createRequest('r2', { checkpoint }));
    expect(created.containerId).toBe('r2');
    // The shim restores when the task starts: until then the checkpoint is unpacked.
    const dirs = unpacked();
    expect(dirs).toHaveLength(1);
    expect(dirs[0]).toMatch(/^ctrd-checkpoint/);
    expect(readdirSync(join(runtimeDir, dirs[0]!))).toEqual(['inventory.img']);
    expect((await c.unary(Api.get, { containerId: 'r2', execId: '' })).process?.status).toBe(Status.CREATED);
    // No criu on this host: runc's restore fails, its error passed through with its code.
    const started = await failure(c.unary(Api.start, { containerId: 'r2', execId: '' }));
    expect(started.code).toBe(UNKNOWN);
    expect(started.message).toMatch(/^OCI runtime restore failed: .*criu.*: unknown$/i);
    // A second Create of the same task is refused and leaves no second directory.
    expect(await failure(c.unary(Api.create, createRequest('r2', { checkpoint })))).toEqual({ code: 6, message: 'task r2: already exists' });
    expect(unpacked()).toEqual(dirs);
    expect(recorded()).toEqual(dirs);
    await c.unary(Api.delete, { containerId: 'r2' });
    expect(unpacked()).toEqual([]);
    expect(recorded()).toEqual([]);
    expect(await env.leftovers(ns)).toEqual([]);
  }, 60_000);

  it('after a restart, the checkpoints of tasks that are gone are removed and the others kept until Delete', async () => {
    const c = env.connect(ns);
    const tar = criuTar();
    const digest = await putBlob(env.db, { namespace: ns }, tar);
    const checkpoint = { mediaType: CRIU_TAR, digest, size: tar.length, annotations: {} };
    for (const id of ['r4', 'r5']) {
      await env.createContainer(ns, id, ['sleep', '1000']);
      await c.unary(Api.create, createRequest(id, { checkpoint }));
    }
    const records = () => recorded().sort();
    expect(unpacked()).toHaveLength(2);
    expect(records()).toEqual(unpacked().sort());
    // r5 goes while the daemon is down (its shim deleted it); an unreadable record is left too.
    await env.manager.delete({ namespace: ns }, 'r5');
    writeFileSync(join(env.serviceState, 'restores', 'ctrd-checkpoint-garbage'), '{');
    const restarted = env.newService();
    await restarted.recoverRestores();
    const [kept] = unpacked();
    expect(unpacked()).toHaveLength(1);
    expect(records()).toEqual([kept]);
    expect(JSON.parse(readFileSync(join(env.serviceState, 'restores', kept!), 'utf8'))).toEqual({ namespace: ns, id: 'r4', dir: join(runtimeDir, kept!) });
    // r4 is still there and its checkpoint with it, until the restarted service deletes it.
    await restarted.delete({ namespace: ns }, { containerId: 'r4' });
    expect(unpacked()).toEqual([]);
    expect(records()).toEqual([]);
    expect(await env.leftovers(ns)).toEqual([]);
  }, 60_000);

  it('a failed Create of a restore removes the unpacked checkpoint', async () => {
    const c = env.connect(ns);
    // A spec the shim cannot read: the runtime's create fails after the unpacking.
    await env.createContainer(ns, 'r3', ['true'], { spec: { typeUrl: RUNTIME_SPEC_TYPE_URLS.Spec, value: Buffer.from('{') } });
    const tar = criuTar();
    const digest = await putBlob(env.db, { namespace: ns }, tar);
    const r = await failure(c.unary(Api.create, createRequest('r3', { checkpoint: { mediaType: CRIU_TAR, digest, size: tar.length, annotations: {} } })));
    expect(r).toEqual({ code: UNKNOWN, message: 'failed to start shim: unexpected end of JSON input' });
    expect(unpacked()).toEqual([]);
    expect(recorded()).toEqual([]);
    expect(await env.leftovers(ns)).toEqual([]);
  }, 60_000);
});

describe('tasks service: events', () => {
  it('the shim forwards /tasks/create, start, exec-added, exec-started, exit, delete in order', async () => {
    const ac = new AbortController();
    const sub = env.exchange.subscribe([`namespace==${ns},topic~="^/tasks/"`], ac.signal);
    const topics: string[] = [];
    const collected = (async () => {
      for await (const e of sub) {
        topics.push(e.topic);
        if (e.topic === '/tasks/delete') break;
      }
    })();
    const c = env.connect(ns);
    await running(c, 'c5');
    await c.unary(Api.exec, { containerId: 'c5', execId: 'x1', ...io, spec: processSpec('c5', ['true']) });
    await c.unary(Api.start, { containerId: 'c5', execId: 'x1' });
    await c.unary(Api.wait, { containerId: 'c5', execId: 'x1' });
    await c.unary(Api.kill, { containerId: 'c5', execId: '', signal: 9, all: false });
    await c.unary(Api.wait, { containerId: 'c5', execId: '' });
    await c.unary(Api.delete, { containerId: 'c5' });
    await Promise.race([collected, new Promise((r) => setTimeout(r, 10_000))]);
    ac.abort();
    expect(topics).toEqual(['/tasks/create', '/tasks/start', '/tasks/exec-added', '/tasks/exec-started', '/tasks/exit', '/tasks/exit', '/tasks/delete']);
    expect(await env.leftovers(ns)).toEqual([]);
  }, 60_000);
});
