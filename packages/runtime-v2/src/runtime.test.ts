import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packAny, unpackAs } from '@containerd-ts/api';
import { CheckpointOptions, Options as RuncOptions } from '@containerd-ts/api/runtime/runc-options';
import { afterEach, describe, expect, it } from 'vitest';
import { RuntimeResolver, defaultPublishBinary, shimBinaryName } from './binary.js';
import { createLogFifo, newBundle } from './bundle.js';
import { fromShimStatus } from './shim-errors.js';
import { isRuncRuntime, withRuncRoot } from './runc-options.js';
import { runtimeTimeouts } from './timeouts.js';

describe('the publish binary', () => {
  it("is bin/containerd-ts when it started the daemon, else the script node runs", () => {
    expect(defaultPublishBinary({ CONTAINERD_TS_BINARY: '/bin/sh' })).toBe('/bin/sh');
    const script = defaultPublishBinary({});
    expect(script).not.toBe('/bin/sh');
    // a path that is not there, or not absolute, is not used
    expect(defaultPublishBinary({ CONTAINERD_TS_BINARY: '/nonexistent/containerd-ts' })).toBe(script);
    expect(defaultPublishBinary({ CONTAINERD_TS_BINARY: 'containerd-ts' })).toBe(script);
  });
});

describe('shim binary resolution', () => {
  it('maps runtime names to shim binaries as containerd', () => {
    expect(shimBinaryName('io.containerd.runc.v2')).toBe('containerd-shim-runc-v2');
    expect(shimBinaryName('io.containerd.runc.v1')).toBe('containerd-shim-runc-v1');
    expect(shimBinaryName('runc')).toBe('');
  });

  it('finds the Debian shims on PATH, keeps absolute paths, refuses bad names', () => {
    const r = new RuntimeResolver();
    expect(r.resolve('io.containerd.runc.v2')).toBe('/usr/bin/containerd-shim-runc-v2');
    expect(r.resolve('io.containerd.runc.v1')).toBe('/usr/bin/containerd-shim-runc-v1');
    expect(r.resolve('/usr/bin/containerd-shim-runc-v2')).toBe('/usr/bin/containerd-shim-runc-v2');
    expect(() => r.resolve('')).toThrow('no runtime name');
    expect(() => r.resolve('runc')).toThrow('invalid runtime name runc');
    expect(() => r.resolve('io.containerd.nope.v9')).toThrow(
      'runtime "io.containerd.nope.v9" binary not installed "containerd-shim-nope-v9": file does not exist',
    );
    expect(() => r.resolve('/no/such/shim')).toThrow('invalid custom binary path: stat /no/such/shim: no such file or directory');
  });
});

describe('runc root of its own', () => {
  it('adds Root to runc options that have none, keeps a Root the user set and other option types', () => {
    const added = withRuncRoot('io.containerd.runc.v2', undefined, '/run/ts/runc');
    expect(added && unpackAs(added, RuncOptions).root).toBe('/run/ts/runc');
    const withBinary = withRuncRoot('io.containerd.runc.v2', packAny(RuncOptions, RuncOptions.fromPartial({ binaryName: 'crun' })), '/run/ts/runc');
    expect(withBinary && unpackAs(withBinary, RuncOptions)).toMatchObject({ binaryName: 'crun', root: '/run/ts/runc' });
    const own = packAny(RuncOptions, RuncOptions.fromPartial({ root: '/mine' }));
    expect(withRuncRoot('io.containerd.runc.v2', own, '/run/ts/runc')).toBe(own);
    const other = packAny(CheckpointOptions, CheckpointOptions.fromPartial({ imagePath: '/x' }));
    expect(withRuncRoot('io.containerd.runc.v2', other, '/run/ts/runc')).toBe(other);
    expect(withRuncRoot('io.containerd.kata.v2', undefined, '/run/ts/runc')).toBeUndefined();
    expect(isRuncRuntime('/usr/bin/containerd-shim-runc-v2')).toBe(true);
  });
});

describe('[timeouts]', () => {
  it("has containerd's defaults and reads Go durations", () => {
    expect(runtimeTimeouts()).toEqual({ shimCleanupMs: 5000, shimLoadMs: 5000, shimShutdownMs: 3000, taskStateMs: 2000 });
    expect(runtimeTimeouts({ 'io.containerd.timeout.shim.load': '1m30s' }).shimLoadMs).toBe(90_000);
    expect(() => runtimeTimeouts({ 'io.containerd.timeout.task.state': 'soon' })).toThrow('time: invalid duration "soon"');
  });
});

describe('bundles', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lays out a bundle as containerd 1.6 and removes it with its work dir', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bundle-'));
    const spec = Buffer.from('{"ociVersion":"1.0.2"}');
    const b = await newBundle(join(dir, 'root'), join(dir, 'state'), 'ns1', 'c1', spec);
    expect(b.path).toBe(join(dir, 'state', 'ns1', 'c1'));
    expect(readFileSync(join(b.path, 'config.json'), 'utf8')).toBe(spec.toString());
    expect(readlinkSync(join(b.path, 'work'))).toBe(join(dir, 'root', 'ns1', 'c1'));
    expect(lstatSync(b.rootfs).isDirectory()).toBe(true);
    await createLogFifo(b);
    expect(lstatSync(b.logPath).isFIFO()).toBe(true);
    await expect(newBundle(join(dir, 'root'), join(dir, 'state'), 'ns1', 'c1', spec)).rejects.toThrow('EEXIST');
    await b.delete();
    expect(existsSync(b.path)).toBe(false);
    expect(existsSync(join(dir, 'root', 'ns1', 'c1'))).toBe(false);
  });

  it('refuses an invalid task id', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bundle-'));
    await expect(newBundle(join(dir, 'root'), join(dir, 'state'), 'ns1', 'bad..id', Buffer.from('{}'))).rejects.toThrow(
      /^invalid task id bad\.\.id: identifier "bad\.\.id" must match .*: invalid argument$/,
    );
  });
});

describe('shim errors', () => {
  it("take the class of their code and end in its text once, as containerd's FromGRPC makes them", () => {
    const criu = fromShimStatus(2, 'runc did not terminate successfully: exit status 1: CRIU version check failed');
    expect([criu.code, criu.kind, criu.message]).toEqual([2, 'unknown', 'runc did not terminate successfully: exit status 1: CRIU version check failed: unknown']);
    const missing = fromShimStatus(5, 'process p1 does not exist p1: not found');
    expect([missing.code, missing.kind, missing.message]).toEqual([5, 'not-found', 'process p1 does not exist p1: not found']);
    const running = fromShimStatus(9, 'container c1 is running');
    expect([running.code, running.message]).toEqual([9, 'container c1 is running: failed precondition']);
    // A code without a class of its own reaches clients as Unknown.
    const exhausted = fromShimStatus(8, 'too big');
    expect([exhausted.code, exhausted.message]).toEqual([2, 'too big: unknown']);
    expect(fromShimStatus(5, 'not found').message).toBe('not found');
  });
});
