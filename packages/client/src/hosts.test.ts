// hosts.toml as containerd's config package reads it (its TestParseHostFile file, and the
// directory lookup, certs.d fallback and defaults of ConfigureHosts).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureHosts, hostDirFromRoot, hostDirectory, loadHostDir, parseHostsFile } from './hosts.js';

const TESTTOML = `
server = "https://test-default.registry"
ca = "/etc/path/default"
[header]
  x-custom-1 = "custom header"

[host."https://mirror.registry"]
  capabilities = ["pull"]
  ca = "/etc/certs/mirror.pem"
  skip_verify = false
  [host."https://mirror.registry".header]
    x-custom-2 = ["value1", "value2"]

[host."https://mirror-bak.registry/us"]
  capabilities = ["pull"]
  skip_verify = true

[host."http://mirror.registry"]
  capabilities = ["pull"]

[host."https://test-1.registry"]
  capabilities = ["pull", "resolve", "push"]
  ca = ["/etc/certs/test-1-ca.pem", "special.pem"]
  client = [["/etc/certs/client.cert", "/etc/certs/client.key"],["/etc/certs/client.pem", ""]]

[host."https://test-2.registry"]
  client = "/etc/certs/client.pem"

[host."https://test-3.registry"]
  client = ["/etc/certs/client-1.pem", "/etc/certs/client-2.pem"]

[host."https://noncompliantmirror.registry/v2/namespaceprefix"]
  capabilities = ["pull"]
  override_path = true

[host."https://noprefixnoncompliant.registry"]
  override_path = true
`;

const all = ['pull', 'resolve', 'push'];

describe('parseHostsFile', () => {
  it('reads the hosts in file order, the server last, paths and capabilities as containerd', () => {
    expect(parseHostsFile('/etc/containerd/certs.d/x', TESTTOML)).toEqual([
      { scheme: 'https', host: 'mirror.registry', path: '/v2', capabilities: ['pull'], caCerts: ['/etc/certs/mirror.pem'], skipVerify: false, header: { 'x-custom-2': ['value1', 'value2'] } },
      { scheme: 'https', host: 'mirror-bak.registry', path: '/us/v2', capabilities: ['pull'], skipVerify: true },
      { scheme: 'http', host: 'mirror.registry', path: '/v2', capabilities: ['pull'] },
      {
        scheme: 'https',
        host: 'test-1.registry',
        path: '/v2',
        capabilities: all,
        // A relative path is relative to the host's directory.
        caCerts: ['/etc/certs/test-1-ca.pem', '/etc/containerd/certs.d/x/special.pem'],
        clientPairs: [
          ['/etc/certs/client.cert', '/etc/certs/client.key'],
          // '' (the key is in the cert file) stays '' (containerd would make it the directory).
          ['/etc/certs/client.pem', ''],
        ],
      },
      { scheme: 'https', host: 'test-2.registry', path: '/v2', capabilities: all, clientPairs: [['/etc/certs/client.pem', '']] },
      {
        scheme: 'https',
        host: 'test-3.registry',
        path: '/v2',
        capabilities: all,
        clientPairs: [
          ['/etc/certs/client-1.pem', ''],
          ['/etc/certs/client-2.pem', ''],
        ],
      },
      { scheme: 'https', host: 'noncompliantmirror.registry', path: '/v2/namespaceprefix', capabilities: ['pull'] },
      { scheme: 'https', host: 'noprefixnoncompliant.registry', path: '', capabilities: all },
      { scheme: 'https', host: 'test-default.registry', path: '/v2', capabilities: all, caCerts: ['/etc/path/default'], header: { 'x-custom-1': ['custom header'] } },
    ]);
  });

  it('a file without server ends with an empty entry for the registry itself', () => {
    expect(parseHostsFile('/d', '[host."https://m:5000"]\n  capabilities = ["pull", "resolve"]\n')).toEqual([
      { scheme: 'https', host: 'm:5000', path: '/v2', capabilities: ['pull', 'resolve'] },
      { scheme: '', host: '', path: '', capabilities: all },
    ]);
    expect(parseHostsFile('/d', 'server = "registry.example.com:5000"\n')).toEqual([{ scheme: 'https', host: 'registry.example.com:5000', path: '/v2', capabilities: all }]);
  });

  it('refuses what containerd refuses, with its words', () => {
    expect(() => parseHostsFile('/d', '[host."https://m"]\n  capabilities = ["pull", "fly"]\n')).toThrow('unknown capability fly');
    expect(() => parseHostsFile('/d', '[host."https://m"]\n  ca = 3\n')).toThrow('invalid type 3 for "ca"');
    expect(() => parseHostsFile('/d', '[host."https://m"]\n  client = [["a"]]\n')).toThrow('invalid pair ["a"] for "client"');
    expect(() => parseHostsFile('/d', '[host."https://m"]\n  header = { x = 1 }\n')).toThrow('invalid type 1 for header "x"');
    expect(() => parseHostsFile('/d', 'server = \n')).toThrow(/^failed to parse TOML: /);
  });
});

describe('host directories', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'hosts-test-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('finds <host>_<port>_, then <host:port>, then _default', async () => {
    expect(hostDirectory('r.example:5000')).toBe('r.example_5000_');
    expect(hostDirectory('r.example')).toBe('r.example');
    expect(await hostDirFromRoot(root, 'r.example:5000')).toBeUndefined();
    await mkdir(join(root, '_default'));
    expect(await hostDirFromRoot(root, 'r.example:5000')).toBe(join(root, '_default'));
    await mkdir(join(root, 'r.example:5000'));
    expect(await hostDirFromRoot(root, 'r.example:5000')).toBe(join(root, 'r.example:5000'));
    await mkdir(join(root, 'r.example_5000_'));
    expect(await hostDirFromRoot(root, 'r.example:5000')).toBe(join(root, 'r.example_5000_'));
  });

  it('without hosts.toml, reads Docker’s certs.d files', async () => {
    const dir = join(root, 'certs.example');
    await mkdir(dir);
    for (const f of ['ca.crt', 'client.cert', 'client.key', 'other.cert']) await writeFile(join(dir, f), '');
    expect(await loadHostDir(dir)).toEqual([
      { scheme: '', host: '', path: '', capabilities: [], caCerts: [join(dir, 'ca.crt')], clientPairs: [[join(dir, 'client.cert'), join(dir, 'client.key')], [join(dir, 'other.cert'), '']] },
    ]);
  });

  it('a broken hosts.toml is an error naming the file', async () => {
    const dir = join(root, 'broken.example');
    await mkdir(dir);
    await writeFile(join(dir, 'hosts.toml'), '[host."https://m"]\ncapabilities = ["fly"]\n');
    await expect(loadHostDir(dir)).rejects.toThrow(`failed to decode ${join(dir, 'hosts.toml')}: unknown capability fly`);
  });

  it('configureHosts: mirrors first, then the registry with its defaults', async () => {
    const dir = join(root, 'mirrored.example_5000_');
    await mkdir(dir);
    await writeFile(join(dir, 'hosts.toml'), '[host."http://127.0.0.1:6000"]\n  capabilities = ["pull", "resolve"]\n  [host."http://127.0.0.1:6000".header]\n    x-a = "b"\n');
    const hosts = await configureHosts('mirrored.example:5000', { hostsDir: root });
    expect(hosts.map((h) => [h.scheme, h.host, h.path, h.capabilities, h.header])).toEqual([
      ['http', '127.0.0.1:6000', '/v2', ['pull', 'resolve'], { 'x-a': ['b'] }],
      ['https', 'mirrored.example:5000', '/v2', all, {}],
    ]);
    // No directory for it (and no _default here): the registry alone.
    const other = await mkdtemp(join(tmpdir(), 'hosts-test-empty-'));
    try {
      expect((await configureHosts('docker.io', { hostsDir: other })).map((h) => `${h.scheme}://${h.host}${h.path}`)).toEqual(['https://registry-1.docker.io/v2']);
      const loop = await configureHosts('127.0.0.1:5000', { hostsDir: other });
      expect(loop.map((h) => [`${h.scheme}://${h.host}`, h.tls.insecureSkipVerify])).toEqual([['http://127.0.0.1:5000', true]]);
      expect((await configureHosts('127.0.0.1:5000', { defaultScheme: 'https' })).map((h) => h.scheme)).toEqual(['https']);
      expect((await configureHosts('r.example', { defaultScheme: 'http' })).map((h) => h.scheme)).toEqual(['http']);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('a CA file that is not PEM, or missing, is named', async () => {
    const dir = join(root, 'ca.example');
    await mkdir(dir);
    await writeFile(join(dir, 'bad.pem'), 'nope');
    await writeFile(join(dir, 'hosts.toml'), 'server = "https://ca.example"\nca = "bad.pem"\n');
    await expect(configureHosts('ca.example', { hostsDir: root })).rejects.toThrow(`unable to load CA cert "${join(dir, 'bad.pem')}"`);
    await writeFile(join(dir, 'hosts.toml'), 'server = "https://ca.example"\nca = "missing.pem"\n');
    await expect(configureHosts('ca.example', { hostsDir: root })).rejects.toThrow(`unable to read CA cert "${join(dir, 'missing.pem')}"`);
  });
});
