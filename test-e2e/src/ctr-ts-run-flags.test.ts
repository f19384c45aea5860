// Issue 11: the `run`/`containers create` flags beyond an image's defaults — `--rootfs`,
// `--config`, `--privileged`, `--device`, `--seccomp` and `--seccomp-profile`, `--log-uri` —
// with Debian's ctr and with ctr-ts, each in a namespace of its own, on containerd-ts and on
// Debian's containerd: `containers info` (the generated OCI spec included) of what ctr-ts
// created equals ctr's, a container run from a rootfs directory or a spec file prints the
// same, errors read as ctr's, and flags whose feature ctr-ts does not offer (`--gpus`,
// `--rdt-class`, AppArmor) give one line and exit 1. Nothing is left.
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_PATH } from './busybox-image.js';
import { leftovers } from './containers-run.js';
import { CLIENTS, type Sessions, startSessions } from './ctr-sessions.js';
import { run } from './harness.js';

const NAMES = ['priv', 'dev', 'devdir', 'sec', 'secadm', 'secfile', 'rfs', 'rfsrun', 'cfg', 'cfgrun', 'log', 'bad1', 'bad2', 'bad3', 'bad4', 'x'];

describe('ctr-ts run/containers create flags: the same records and output as ctr on containerd-ts and containerd', () => {
  let sessions: Sessions | undefined;
  let work: string;
  const vars: Record<string, string> = {};

  beforeAll(async () => {
    sessions = await startSessions({ namespace: 'flag', tag: 'f' });
    work = await mkdtemp(join(tmpdir(), 'ctr-ts-run-flags-'));
    // A root filesystem directory: busybox (static) and its applets.
    const rootfs = join(work, 'rootfs');
    await mkdir(join(rootfs, 'bin'), { recursive: true });
    for (const dir of ['proc', 'dev', 'sys', 'tmp', 'etc']) await mkdir(join(rootfs, dir));
    await copyFile(BUSYBOX_PATH, join(rootfs, 'bin', 'busybox'));
    await chmod(join(rootfs, 'bin', 'busybox'), 0o755);
    for (const applet of ['sh', 'echo', 'cat', 'id']) await symlink('busybox', join(rootfs, 'bin', applet));
    vars.rootfs = rootfs;
    // A spec file: ctr's default spec with that rootfs and a command.
    const spec = JSON.parse((await run('ctr', ['oci', 'spec'])).stdout) as { root: { path: string }; process: { args: string[] } };
    spec.root.path = rootfs;
    spec.process.args = ['/bin/sh', '-c', 'echo from config'];
    vars.config = join(work, 'config.json');
    await writeFile(vars.config, JSON.stringify(spec, null, 2));
    // A seccomp profile with fields out of Go's order.
    vars.profile = join(work, 'seccomp.json');
    await writeFile(
      vars.profile,
      JSON.stringify({ syscalls: [{ action: 'SCMP_ACT_ERRNO', names: ['mkdir'], errnoRet: 1 }], architectures: ['SCMP_ARCH_X86_64'], defaultAction: 'SCMP_ACT_ALLOW' }),
    );
    vars.logdir = work;
  }, 180_000);

  afterAll(async () => {
    await sessions?.stop(NAMES);
    if (work) await rm(work, { recursive: true, force: true });
  }, 300_000);

  it('creates the same containers and specs as ctr, runs a rootfs and a spec file, logs to a file', async () => {
    const steps: string[][] = [
      ['containers', 'create', '--privileged', '{img}', 'priv-{id}'],
      ['containers', 'info', 'priv-{id}'],
      ['containers', 'create', '--device', '/dev/null', '--device', '/dev/zero', '{img}', 'dev-{id}'],
      ['containers', 'info', 'dev-{id}'],
      ['containers', 'create', '--device', '/dev/net', '{img}', 'devdir-{id}'],
      ['containers', 'info', 'devdir-{id}'],
      ['containers', 'create', '--seccomp', '{img}', 'sec-{id}'],
      ['containers', 'info', 'sec-{id}'],
      ['containers', 'create', '--seccomp', '--cap-add', 'CAP_SYS_ADMIN', '--cap-add', 'CAP_SYS_PTRACE', '{img}', 'secadm-{id}'],
      ['containers', 'info', 'secadm-{id}'],
      ['containers', 'create', '--seccomp', '--seccomp-profile', '{profile}', '{img}', 'secfile-{id}'],
      ['containers', 'info', 'secfile-{id}'],
      ['containers', 'create', '--rootfs', '--label', 'a=b', '--env', 'X=1', '{rootfs}', 'rfs-{id}', 'sh'],
      ['containers', 'info', 'rfs-{id}'],
      ['containers', 'create', '--config', '{config}', '--label', 'cfg=1', 'cfg-{id}'],
      ['containers', 'info', 'cfg-{id}'],
      ['containers', 'rm', 'priv-{id}', 'dev-{id}', 'devdir-{id}', 'sec-{id}', 'secadm-{id}', 'secfile-{id}', 'rfs-{id}', 'cfg-{id}'],
      ['run', '--rm', '--rootfs', '{rootfs}', 'rfsrun-{id}', 'sh', '-c', 'echo from rootfs; id'],
      ['run', '--rm', '--config', '{config}', 'cfgrun-{id}'],
      // The shim copies stdout and stderr into the file; the process lingers so that its
      // copies are done before `--rm` deletes the task (the same race for ctr).
      ['run', '--rm', '--log-uri', 'file://{logdir}/{id}.log', '{img}', 'log-{id}', 'sh', '-c', 'echo logged; echo to stderr >&2; sleep 1'],
      ['run', '--rm', '--seccomp', '--seccomp-profile', '{profile}', '{img}', 'secfile-{id}', 'mkdir', '/tmp/x'],
      // Errors as ctr's.
      ['containers', 'create', '--seccomp-profile', '{profile}', '{img}', 'bad1-{id}'],
      ['containers', 'create', '--seccomp', '--seccomp-profile', '/nonexistent.json', '{img}', 'bad2-{id}'],
      ['containers', 'create', '--device', '/dev/nonexistent', '{img}', 'bad3-{id}'],
      ['containers', 'create', '--config', '/nonexistent.json', 'bad4-{id}'],
      ['containers', 'create', '--config', '{config}', 'bad4-{id}', 'extra'],
      ['run', '--rm', '--config', '{config}', 'bad4-{id}', 'extra'],
      ['containers', 'ls'],
      ['tasks', 'ls'],
    ];
    const { daemons, image, tag, ts } = sessions!;
    const runStep = sessions!.run;
    for (const d of daemons) {
      expect(await sessions!.compare(d, steps, { ...vars, img: image.ref })).toEqual([]);
      for (const client of CLIENTS) {
        // stdout and stderr are copied into the file side by side: their order varies.
        const logged = (await readFile(join(work, `${tag(client)}.log`), 'utf8')).split('\n').sort();
        expect(logged, `${d.name} ${client}`).toEqual(['', 'logged', 'to stderr']);
        await rm(join(work, `${tag(client)}.log`));
      }
    }
    // What ctr-ts printed for the privileged spec, so that two equally wrong runs cannot pass.
    const info = await runStep('ctr-ts', daemons[0]!, ['containers', 'create', '--privileged', '{img}', 'x-{id}'], { img: image.ref });
    expect(info.code, info.stderr).toBe(0);
    const spec = JSON.parse((await runStep('ctr-ts', daemons[0]!, ['containers', 'info', '--spec', 'x-{id}'], {})).stdout) as {
      process: { capabilities: { bounding: string[] } };
      linux: { devices: Array<{ path: string }>; resources: { devices: unknown[] } };
    };
    expect(spec.process.capabilities.bounding).toContain('CAP_SYS_ADMIN');
    expect(spec.linux.devices.map((dev) => dev.path)).toContain('/dev/null');
    expect(spec.linux.resources.devices).toEqual([{ allow: true, access: 'rwm' }]);
    await runStep('ctr-ts', daemons[0]!, ['containers', 'rm', 'x-{id}'], {});
    expect(await leftovers(ts, daemons[0]!.namespaces['ctr-ts'], [])).toEqual([]);
  }, 600_000);

  it('flags whose feature ctr-ts does not offer give one line and exit 1, and leave nothing', async () => {
    const { daemons, image } = sessions!;
    const runStep = sessions!.run;
    const d = daemons[0]!;
    for (const flags of [
      ['--gpus', '0'],
      ['--rdt-class', 'gold'],
      ['--apparmor-profile', 'docker-default'],
      ['--apparmor-default-profile', 'ctr-default'],
    ]) {
      const r = await runStep('ctr-ts', d, ['run', '--rm', ...flags, '{img}', 'x-{id}', 'true'], { img: image.ref });
      expect(r.code, flags.join(' ')).toBe(1);
      expect(r.stderr.trim().split('\n'), flags.join(' ')).toHaveLength(1);
      expect(r.stderr, flags.join(' ')).toMatch(/^ctr-ts: .*not supported by ctr-ts\n$/);
    }
    const listed = await runStep('ctr-ts', d, ['containers', 'ls', '-q'], {});
    expect(listed.stdout).toBe('');
  }, 120_000);
});
