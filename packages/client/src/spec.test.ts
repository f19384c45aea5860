// OCI spec generation: containerd 1.6's defaults, ctr's options, the rootfs user lookup, and
// Go's encoding (field order, omitempty, HTML escaping).
import { describe, expect, it } from 'vitest';
import { generateContainerSpec } from './container.js';
import { canonicalSpec, defaultSpec, formatSpec, marshalSpec, parseMountFlag, replaceOrAppendEnv, withUser } from './spec.js';

const files: Record<string, string> = {
  '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1000:100::/home/alice:/bin/sh\n',
  '/etc/group': 'root:x:0:\nusers:x:100:\nwheel:x:10:alice,bob\naudio:x:29:alice\n',
};
const reader = async (p: string) => files[p];

describe('default spec', () => {
  it('is populateDefaultUnixSpec, in the runtime-spec field order', () => {
    const s = defaultSpec('default', 'c1');
    expect(s.linux?.cgroupsPath).toBe('/default/c1');
    expect(defaultSpec('default', '').linux?.cgroupsPath).toBe('/default');
    const text = formatSpec(s);
    expect(Object.keys(JSON.parse(text))).toEqual(['ociVersion', 'process', 'root', 'mounts', 'linux']);
    expect(Object.keys(JSON.parse(text).process)).toEqual(['user', 'cwd', 'capabilities', 'rlimits', 'noNewPrivileges']);
    expect(Object.keys(JSON.parse(text).linux)).toEqual(['resources', 'cgroupsPath', 'namespaces', 'maskedPaths', 'readonlyPaths']);
    expect(text.split('\n')[1]).toBe('    "ociVersion": "1.0.2-dev",');
    expect(s.mounts?.map((m) => m.destination)).toEqual(['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/run']);
  });

  it('orders fields as Go, drops empty omitempty fields, keeps zero pointers', () => {
    const s = canonicalSpec({
      linux: { resources: { devices: [{ access: 'rwm', allow: true, minor: 0, major: 1, type: 'c' }] }, cgroupsPath: '' },
      annotations: {},
      ociVersion: '1',
      process: { cwd: '/', user: { gid: 0, uid: 0 }, env: [], terminal: false },
    });
    expect(JSON.stringify(s)).toBe(
      '{"ociVersion":"1","process":{"user":{"uid":0,"gid":0},"cwd":"/"},"linux":{"resources":{"devices":[{"allow":true,"type":"c","major":1,"minor":0,"access":"rwm"}]}}}',
    );
    expect(marshalSpec({ ociVersion: '1', annotations: { b: '<&>', a: '1' } }).toString()).toBe('{"ociVersion":"1","annotations":{"a":"1","b":"\\u003c\\u0026\\u003e"}}');
  });
});

describe("ctr's options", () => {
  it('applies the image config, env, args, cwd, tty, host network and limits as ctr run', async () => {
    const s = await generateContainerSpec(
      'ns',
      'c1',
      { runtime: { Env: ['PATH=/bin', 'A=1'], Cmd: ['/bin/sh'], WorkingDir: '/w', User: 'alice' } },
      { env: ['A=2', 'B=3'], args: ['echo', 'hi'], tty: true, netHost: { hostname: 'h' }, memoryLimit: 1024, cpus: 0.5, cpuShares: 1024, readOnly: true, labels: { l: 'v' } },
      reader,
    );
    expect(s.process?.env).toEqual(['PATH=/bin', 'A=2', 'B=3', 'TERM=xterm', 'HOSTNAME=h']);
    expect(s.process?.args).toEqual(['echo', 'hi']);
    expect(s.process?.cwd).toBe('/w');
    expect(s.process?.terminal).toBe(true);
    expect(s.process?.user).toEqual({ uid: 1000, gid: 100, additionalGids: [100, 10, 29] });
    expect(s.linux?.namespaces?.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount']);
    expect(s.mounts?.slice(-2).map((m) => m.destination)).toEqual(['/etc/hosts', '/etc/resolv.conf']);
    expect(s.linux?.resources?.memory).toEqual({ limit: 1024 });
    expect(s.linux?.resources?.cpu).toEqual({ shares: 1024, quota: 50000, period: 100000 });
    expect(s.root).toEqual({ path: 'rootfs', readonly: true });
    expect(s.annotations).toEqual({ l: 'v' });
    expect(s.linux?.resources?.devices).toHaveLength(10);
  });

  it('looks users and groups up in the root file system', async () => {
    const s = defaultSpec('ns', 'c');
    await withUser(s, 'nobody', reader);
    expect(s.process?.user).toEqual({ uid: 65534, gid: 65534, additionalGids: [65534] });
    await withUser(s, '1000:wheel', reader);
    expect(s.process?.user).toEqual({ uid: 1000, gid: 10, additionalGids: [10] });
    await withUser(s, '4242', reader);
    expect(s.process?.user).toEqual({ uid: 4242, gid: 0, additionalGids: [0] });
    await expect(withUser(s, 'nosuchuser', reader)).rejects.toThrow('no users found');
    await expect(withUser(s, 'a:b:c', reader)).rejects.toThrow('invalid USER value a:b:c');
  });

  it('replaces or appends env values, unsets a bare key', () => {
    expect(replaceOrAppendEnv(['A=1', 'B=2'], ['B=3', 'C=4', 'A'])).toEqual(['B=3', 'C=4']);
  });

  it('parses --mount as ctr (a CSV record of key=value)', () => {
    expect(parseMountFlag('type=bind,src=/tmp,dst=/host,options=rbind:ro')).toEqual({ destination: '/host', type: 'bind', source: '/tmp', options: ['rbind', 'ro'] });
    expect(parseMountFlag('"type=bind","source=/a,b",destination=/c')).toEqual({ destination: '/c', type: 'bind', source: '/a,b', options: undefined });
    expect(() => parseMountFlag('type')).toThrow('invalid mount specification: expected key=val');
    expect(() => parseMountFlag('kind=x')).toThrow('mount option "kind" not supported');
  });
});
