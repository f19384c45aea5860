// `ctr-ts run --cni`: the default CNI network (the first file of /etc/cni/net.d, plugins
// from /opt/cni/bin or /usr/lib/cni, as Debian's ctr) set up in the task's network
// namespace before it starts and removed after it exits, compared with Debian's ctr on
// containerd-ts and on containerd, with Debian's bridge, host-local and loopback plugins.
// Each client runs in a mount namespace of its own in which the test's configuration, an
// empty /opt/cni/bin (the plugins are then Debian's) and a CNI state directory are
// bind-mounted at those paths, so the host's own CNI setup is neither used nor changed.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_PATH } from './busybox-image.js';
import { CLIENTS, type Client, type SessionDaemon, type Sessions, startSessions } from './ctr-sessions.js';
import { type RunResult, ctrTs, run } from './harness.js';

const PLUGINS = '/usr/lib/cni';
/** The paths ctr's go-cni reads and writes. */
const HOST_DIRS = ['/etc/cni/net.d', '/opt/cni/bin', '/var/lib/cni'];
const NAMES = ['cni', 'cnid', 'cnie', 'cnif'];
const bridge = `ctsbr${process.pid % 100000}`;
const SUBNET = '10.213.7';

describe('ctr-ts run --cni: the same network and output as ctr on containerd-ts and containerd', () => {
  let sessions: Sessions | undefined;
  let work: string;
  /** Host directories this test made (to be mount points), removed afterwards. */
  const made: string[] = [];

  const dirs = () => ({ conf: join(work, 'net.d'), empty: join(work, 'empty'), broken: join(work, 'broken'), state: join(work, 'state'), bin: join(work, 'bin') });

  /** Runs a client with `confDir` at /etc/cni/net.d, an empty /opt/cni/bin and the test's state at /var/lib/cni. */
  function runIn(confDir: string, client: Client, d: SessionDaemon, args: readonly string[]): Promise<RunResult> {
    const s = sessions!;
    const expanded = args.map((a) => a.replaceAll('{id}', s.tag(client)).replaceAll('{img}', s.image.ref));
    const script = 'mount --bind "$1" /etc/cni/net.d && mount --bind "$2" /opt/cni/bin && mount --bind "$3" /var/lib/cni && shift 3 && exec "$@"';
    const client_ = client === 'ctr' ? 'ctr' : ctrTs;
    return run('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', confDir, dirs().bin, dirs().state, client_, '-a', d.socket, '-n', d.namespaces[client], ...expanded], {
      input: '',
      timeoutMs: 60_000,
    });
  }

  /** Output made comparable: the client's names, times, and the addresses host-local hands out in turn. */
  const normalize = (r: RunResult, client: Client, d: SessionDaemon) => sessions!.normalize(r, client, d).replaceAll(new RegExp(`${SUBNET.replaceAll('.', '\\.')}\\.(?!1\\b|0\\b|255\\b)\\d+`, 'g'), '<ip>');

  const results = () => readdir(join(dirs().state, 'results')).catch(() => [] as string[]);
  /** Addresses host-local holds (its files other than its lock and last-reserved marker). */
  const reserved = async () => (await readdir(join(dirs().state, 'networks', 'ctrts-e2e')).catch(() => [] as string[])).filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip'));
  const bridgePorts = () => readdir(`/sys/class/net/${bridge}/brif`).catch(() => [] as string[]);

  beforeAll(async () => {
    if (!existsSync(join(PLUGINS, 'bridge'))) {
      throw new Error(`ctr-ts run --cni's test needs the CNI plugins in ${PLUGINS} (Debian package containernetworking-plugins; scripts/setup.sh installs it)`);
    }
    for (const dir of HOST_DIRS) {
      if (existsSync(dir)) continue;
      // The highest directory missing on the way to `dir`: what is removed afterwards.
      let first = dir;
      for (let p = join(dir, '..'); p !== '/' && !existsSync(p); p = join(p, '..')) first = p;
      await mkdir(dir, { recursive: true });
      made.push(first);
    }
    work = await mkdtemp(join(tmpdir(), 'ctr-ts-cni-'));
    const { conf, empty, broken, state, bin } = dirs();
    for (const d of [conf, empty, broken, state, bin]) await mkdir(d);
    const network = (ipamType: string) =>
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'ctrts-e2e',
        // No gateway on the bridge: the plugin would turn on the host's IP forwarding for it.
        plugins: [
          { type: 'bridge', bridge, isGateway: false, ipMasq: false, ipam: { type: ipamType, ranges: [[{ subnet: `${SUBNET}.0/24` }]], routes: [{ dst: '0.0.0.0/0' }] } },
          { type: 'loopback' },
        ],
      });
    await writeFile(join(conf, '10-ctrts-e2e.conflist'), network('host-local'));
    // A later file is not the default network.
    await writeFile(join(conf, '20-other.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'other', plugins: [{ type: 'absent' }] }));
    await writeFile(join(broken, '10-ctrts-e2e.conflist'), network('absent-ipam'));
    sessions = await startSessions({ namespace: 'cni', tag: 'n' });
  }, 180_000);

  afterAll(async () => {
    await sessions?.stop(NAMES);
    await run(BUSYBOX_PATH, ['ip', 'link', 'del', bridge]);
    if (work) await rm(work, { recursive: true, force: true });
    for (const dir of made.reverse()) await rm(dir, { recursive: true, force: true });
  }, 300_000);

  it('runs a container on the default network: an address and routes from the plugins, all of it released when the task has exited', async () => {
    const { conf } = dirs();
    for (const d of sessions!.daemons) {
      const outputs: Record<string, string> = {};
      for (const client of CLIENTS) {
        const r = await runIn(conf, client, d, ['run', '--rm', '--cni', '{img}', 'cni-{id}', 'sh', '-c', 'ip -o -4 addr show eth0; ip route; ip -o link show lo; exit 0']);
        expect(r.code, `${client} on ${d.name}: ${r.stderr}`).toBe(0);
        const net = SUBNET.replaceAll('.', '\\.');
        expect(r.stdout).toMatch(new RegExp(`^\\d+: eth0 +inet ${net}\\.\\d+/24 brd ${net}\\.255 scope global eth0\\\\.*\\ndefault via ${net}\\.1 dev eth0 \\n${net}\\.0/24 dev eth0 scope link  src ${net}\\.\\d+ \\n`));
        // The loopback plugin brought lo up.
        expect(r.stdout).toMatch(/\n1: lo: <LOOPBACK,UP,LOWER_UP>/);
        outputs[client] = normalize(r, client, d);
        // DEL ran: no cached result, no address held, no port left on the bridge.
        expect(await results(), `${client} on ${d.name}`).toEqual([]);
        expect(await reserved(), `${client} on ${d.name}`).toEqual([]);
        expect(await bridgePorts(), `${client} on ${d.name}`).toEqual([]);
      }
      expect(outputs['ctr-ts']).toBe(outputs.ctr);
    }
  }, 180_000);

  it('leaves a detached container on the network, as ctr does', async () => {
    const { conf } = dirs();
    const d = sessions!.daemons[0]!;
    for (const client of CLIENTS) {
      const r = await runIn(conf, client, d, ['run', '-d', '--cni', '{img}', 'cnid-{id}', 'sleep', '60']);
      expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: '', stderr: '' });
      expect(await results()).toContain(`ctrts-e2e-${d.namespaces[client]}-cnid-${sessions!.tag(client)}-eth0`);
      const ping = await runIn(conf, client, d, ['tasks', 'exec', '--exec-id', 'p', `cnid-{id}`, 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
      expect(ping.stdout).toContain(`inet ${SUBNET}.`);
    }
    expect(await reserved()).toHaveLength(2);
    expect(await bridgePorts()).toHaveLength(2);
    for (const client of CLIENTS) await run(client === 'ctr' ? 'ctr' : ctrTs, ['-a', d.socket, '-n', d.namespaces[client], 'tasks', 'kill', '-s', 'KILL', `cnid-${sessions!.tag(client)}`]);
  }, 120_000);

  it('fails as ctr fails without a network configuration or when a plugin fails, and leaves nothing with --rm', async () => {
    const { empty, broken } = dirs();
    const before = { results: await results(), reserved: await reserved() };
    for (const d of sessions!.daemons) {
      for (const [dir, name, expected] of [
        [empty, 'cnie', 'ctr: no network config found in /etc/cni/net.d: cni plugin not initialized\n'],
        [broken, 'cnif', 'ctr: plugin type="bridge" failed (add): failed to find plugin "absent-ipam" in path [/opt/cni/bin /usr/lib/cni]\n'],
      ] as const) {
        const outputs: Record<string, string> = {};
        for (const client of CLIENTS) {
          const r = await runIn(dir, client, d, ['run', '--rm', '--cni', '{img}', `${name}-{id}`, 'true']);
          expect(r.code, `${client} on ${d.name}`).toBe(1);
          expect(r.stderr.replace('ctr-ts: ', 'ctr: ')).toContain(expected);
          outputs[client] = normalize(r, client, d);
          // ctr 1.6 leaves the container and its created task when a plugin fails (its
          // deferred task.Delete refuses a created task); ctr-ts deletes both.
          if (client === 'ctr' && name === 'cnif') continue;
          const left = await run(ctrTs, ['-a', d.socket, '-n', d.namespaces[client], 'containers', 'ls', '-q']);
          expect(left.stdout.split('\n').filter((l) => l.startsWith(name)), `${client} on ${d.name}`).toEqual([]);
        }
        expect(outputs['ctr-ts'], `${name} on ${d.name}`).toBe(outputs.ctr);
      }
    }
    expect({ results: await results(), reserved: await reserved() }).toEqual(before);
  }, 180_000);
});
