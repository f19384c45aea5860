// go-cni's default network and libcni's plugin protocol, with plugins that are shell
// scripts recording what they were given (the real bridge plugin runs in the e2e tests).
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cni } from './cni.js';

let dir: string;
let opts: { confDir: string; pluginDirs: string[]; cacheDir: string; stderr: NodeJS.WritableStream };
let stderrText: string;

/** What the plugins print on stderr when they succeed, collected. */
const collector = () =>
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      stderrText += chunk.toString();
      done();
    },
  });

const RECORDER = `#!/bin/sh
n=$(basename "$0")
log=$(dirname "$0")/../log
cat > "$log/$n.$CNI_COMMAND.stdin"
env | grep '^CNI_' | sort > "$log/$n.$CNI_COMMAND.env"
echo "$n $CNI_COMMAND" >> "$log/order"
case "$n" in
  fail) echo '{"cniVersion":"1.0.0","code":11,"msg":"it broke","details":"really"}'; exit 1;;
  quiet) echo "only on stderr" >&2; exit 2;;
  mute) exit 3;;
  garbled) echo 'not json'; exit 1;;
esac
echo "$n says hello" >&2
printf '{"cniVersion":"1.0.0","interfaces":[{"name":"%s"}],"ips":[{"address":"10.1.0.%s/24"}]}' "$n" "\${#n}"
`;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cni-test-'));
  opts = { confDir: join(dir, 'net.d'), pluginDirs: [join(dir, 'bin')], cacheDir: join(dir, 'cache'), stderr: collector() };
  stderrText = '';
  await mkdir(opts.confDir);
  await mkdir(join(dir, 'bin'));
  await mkdir(join(dir, 'log'));
  for (const name of ['first', 'second', 'fail', 'quiet', 'mute', 'garbled']) {
    await writeFile(join(dir, 'bin', name), RECORDER);
    await chmod(join(dir, 'bin', name), 0o755);
  }
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const conflist = (plugins: object[], extra: object = {}) => JSON.stringify({ cniVersion: '1.0.0', name: 'testnet', plugins, ...extra });
const log = (name: string) => readFile(join(dir, 'log', name), 'utf8');

describe('the default network (gocni.WithDefaultConf)', () => {
  it('is the first configuration file by name, at eth0; a single plugin file becomes a list of one', async () => {
    await writeFile(join(opts.confDir, '20-b.conflist'), conflist([{ type: 'second' }]));
    await writeFile(join(opts.confDir, '10-a.conf'), JSON.stringify({ cniVersion: '0.4.0', name: 'single', type: 'first', bridge: 'x' }));
    await writeFile(join(opts.confDir, '05-ignored.txt'), 'not a configuration');
    const cni = await Cni.load(opts);
    expect(cni.networks).toHaveLength(1);
    expect(cni.networks[0]!.ifName).toBe('eth0');
    expect(cni.networks[0]!.config).toMatchObject({ name: 'single', cniVersion: '0.4.0', plugins: [{ type: 'first' }] });
    // ConfListFromConf's bytes: Go's json.Marshal of the map, keys sorted.
    expect(cni.networks[0]!.config.bytes.toString()).toBe('{"cniVersion":"0.4.0","name":"single","plugins":[{"bridge":"x","cniVersion":"0.4.0","name":"single","type":"first"}]}');
  });

  it('is refused with go-cni\'s words when there is none or it is broken', async () => {
    await expect(Cni.load(opts)).rejects.toThrow(`no network config found in ${opts.confDir}: cni plugin not initialized`);
    await expect(Cni.load({ ...opts, confDir: join(dir, 'absent') })).rejects.toThrow(`no network config found in ${join(dir, 'absent')}: cni plugin not initialized`);
    const file = join(opts.confDir, '10-x.conflist');
    const cases: [string, string][] = [
      [JSON.stringify({ plugins: [{ type: 'first' }] }), 'error parsing configuration list: no name'],
      [JSON.stringify({ name: 7, plugins: [] }), 'error parsing configuration list: invalid name type float64'],
      [JSON.stringify({ name: 'n' }), `error parsing configuration list: no 'plugins' key`],
      [JSON.stringify({ name: 'n', plugins: [] }), 'error parsing configuration list: no plugins in list'],
      [JSON.stringify({ name: 'n', plugins: [{ bridge: 'x' }] }), `failed to parse plugin config 0: error parsing configuration: missing 'type'`],
    ];
    for (const [text, why] of cases) {
      await writeFile(file, text);
      await expect(Cni.load(opts)).rejects.toThrow(`failed to load CNI config list file ${file}: ${why}: invalid cni config`);
    }
    await rm(file);
    await writeFile(join(opts.confDir, '10-x.conf'), JSON.stringify({ name: 'n' }));
    await expect(Cni.load(opts)).rejects.toThrow(`failed to load CNI config file ${join(opts.confDir, '10-x.conf')}: error parsing configuration: missing 'type': invalid cni config`);
  });
});

describe('setup and remove (libcni AddNetworkList/DelNetworkList)', () => {
  it('run the plugins in order with the CNI variables, each given the list\'s name and version and the previous result; remove runs them backwards with the cached result', async () => {
    await writeFile(join(opts.confDir, '10-net.conflist'), conflist([{ type: 'first', opt: '<&>' }, { type: 'second' }]));
    const cni = await Cni.load(opts);
    const [result] = await cni.setup('ns-c1', '/proc/1/ns/net');
    expect(result).toEqual({ cniVersion: '1.0.0', interfaces: [{ name: 'second' }], ips: [{ address: '10.1.0.6/24' }] });
    expect(await log('order')).toBe('first ADD\nsecond ADD\n');
    expect(await log('first.ADD.env')).toBe(
      ['CNI_ARGS=', 'CNI_COMMAND=ADD', 'CNI_CONTAINERID=ns-c1', 'CNI_IFNAME=eth0', `CNI_NETNS=/proc/1/ns/net`, `CNI_PATH=${opts.pluginDirs[0]}`, ''].join('\n'),
    );
    // Go's json.Marshal of the entry: sorted keys, HTML-safe escapes.
    expect(await log('first.ADD.stdin')).toBe('{"cniVersion":"1.0.0","name":"testnet","opt":"\\u003c\\u0026\\u003e","type":"first"}');
    expect(JSON.parse(await log('second.ADD.stdin'))).toEqual({
      cniVersion: '1.0.0',
      name: 'testnet',
      type: 'second',
      prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'first' }], ips: [{ address: '10.1.0.5/24' }] },
    });
    expect(stderrText).toBe('first says hello\nsecond says hello\n');
    const cacheFile = join(opts.cacheDir, 'results', 'testnet-ns-c1-eth0');
    const cached = JSON.parse(await readFile(cacheFile, 'utf8'));
    expect(cached).toEqual({ kind: 'cniCacheV1', containerId: 'ns-c1', config: Buffer.from(conflist([{ type: 'first', opt: '<&>' }, { type: 'second' }])).toString('base64'), ifName: 'eth0', networkName: 'testnet', result });

    await cni.remove('ns-c1', '');
    expect(await log('order')).toBe('first ADD\nsecond ADD\nsecond DEL\nfirst DEL\n');
    expect(await log('first.DEL.env')).toContain('CNI_NETNS=\n');
    expect(JSON.parse(await log('first.DEL.stdin')).prevResult).toEqual(result);
    expect(await readdir(join(opts.cacheDir, 'results'))).toEqual([]);
  });

  it('gives no result to DEL before spec 0.4.0', async () => {
    await writeFile(join(opts.confDir, '10-net.conflist'), conflist([{ type: 'first' }], { cniVersion: '0.3.1' }));
    const cni = await Cni.load(opts);
    await cni.setup('ns-c1', '/proc/1/ns/net');
    await cni.remove('ns-c1', '');
    expect(JSON.parse(await log('first.DEL.stdin'))).toEqual({ cniVersion: '0.3.1', name: 'testnet', type: 'first' });
  });

  it('fail with the plugin\'s error, its stderr or how it ended, and a missing plugin is named', async () => {
    const cases: [object, string][] = [
      [{ type: 'fail' }, 'plugin type="fail" failed (add): it broke; really'],
      [{ type: 'quiet', name: 'q' }, 'plugin type="quiet" name="q" failed (add): netplugin failed: "only on stderr\\n"'],
      [{ type: 'mute' }, 'plugin type="mute" failed (add): netplugin failed with no error message: exit status 3'],
      [{ type: 'garbled' }, 'plugin type="garbled" failed (add): netplugin failed but error parsing its diagnostic message "not json\\n": '],
      [{ type: 'absent' }, `plugin type="absent" failed (add): failed to find plugin "absent" in path [${opts.pluginDirs[0]}]`],
    ];
    for (const [plugin, message] of cases) {
      await writeFile(join(opts.confDir, '10-net.conflist'), conflist([{ type: 'first' }, plugin]));
      const cni = await Cni.load(opts);
      const err = await cni.setup('ns-c1', '/proc/1/ns/net').then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message.startsWith(message), err?.message).toBe(true);
    }
    await writeFile(join(opts.confDir, '10-net.conflist'), conflist([{ type: 'first' }, { type: 'fail' }]));
    const cni = await Cni.load(opts);
    await expect(cni.remove('ns-c1', '')).rejects.toThrow('plugin type="fail" failed (delete): it broke; really');
  });

  it('treat a plugin\'s "not found" on remove as already removed', async () => {
    await writeFile(join(dir, 'bin', 'gone'), '#!/bin/sh\necho \'{"code":11,"msg":"link not found"}\'; exit 1\n');
    await chmod(join(dir, 'bin', 'gone'), 0o755);
    await writeFile(join(opts.confDir, '10-net.conflist'), conflist([{ type: 'gone' }]));
    const cni = await Cni.load(opts);
    await expect(cni.remove('ns-c1', '/proc/1/ns/net')).resolves.toBeUndefined();
  });
});
