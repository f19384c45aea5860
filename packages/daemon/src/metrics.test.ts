// The daemon's Prometheus endpoint: gRPC server metrics as go-grpc-prometheus reports
// them, the handling-time histogram with `grpc_histogram`, process metrics, and families
// plugins contribute.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daemonConfigSchema } from '@containerd-ts/config';
import { definePlugin } from '@containerd-ts/plugin';
import { Client, credentials, Metadata, status } from '@grpc/grpc-js';
import { Gauge, type Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDaemon, type Daemon } from './daemon.js';
import { createLogger } from './logger.js';
import { GrpcServerMetrics, parseTcpAddress } from './metrics.js';

const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const greeter = {
  Hello: {
    path: '/test.v1.Greeter/Hello',
    requestStream: false,
    responseStream: false,
    requestSerialize: raw.serialize,
    requestDeserialize: raw.deserialize,
    responseSerialize: raw.serialize,
    responseDeserialize: raw.deserialize,
  },
};

const greeterPlugin = definePlugin({
  type: 'io.containerd.grpc.v1',
  id: 'greeter',
  init: () => ({
    services: [
      {
        definition: greeter,
        implementation: {
          Hello: (call: { request: Buffer }, cb: (err: { code: number; details: string; metadata: Metadata } | null, res?: Buffer) => void) =>
            call.request.toString() === 'nobody'
              ? cb({ code: status.NOT_FOUND, details: 'nobody: not found', metadata: new Metadata() })
              : cb(null, Buffer.from('hi')),
        },
      },
    ],
  }),
});

// a plugin instance contributing a family, as the cgroups monitor does
const providerPlugin = definePlugin({
  type: 'io.containerd.internal.v1',
  id: 'provider',
  init: () => ({
    registerMetrics(registry: Registry) {
      new Gauge({ name: 'test_provided', help: 'A family from a plugin', registers: [registry] }).set(7);
    },
  }),
});

// a plugin instance rendering its families as text at each scrape, as the cgroups monitor does
let renders = 0;
const renderingPlugin = definePlugin({
  type: 'io.containerd.internal.v1',
  id: 'rendering',
  init: () => ({
    async renderMetrics() {
      renders++;
      return `# HELP test_rendered A rendered family\n# TYPE test_rendered gauge\ntest_rendered{scrape="${renders}"} 1\n`;
    },
  }),
});

let dir = '';
let daemon: Daemon | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'daemon-metrics-'));
});
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function start(metrics: { address: string; grpc_histogram?: boolean }): Promise<Daemon> {
  const config = daemonConfigSchema.parse({ root: join(dir, 'root'), state: join(dir, 'state'), grpc: { address: join(dir, 'd.sock') }, metrics });
  daemon = createDaemon({ plugins: [greeterPlugin, providerPlugin, renderingPlugin], config, log: createLogger('fatal') });
  await daemon.start();
  return daemon;
}

async function hello(d: Daemon, name: string): Promise<number> {
  const client = new Client(`unix://${d.address}`, credentials.createInsecure());
  try {
    return await new Promise<number>((resolve) => {
      client.makeUnaryRequest(greeter.Hello.path, raw.serialize, raw.deserialize, Buffer.from(name), (err) => resolve(err?.code ?? 0));
    });
  } finally {
    client.close();
  }
}

async function scrape(d: Daemon, path = '/v1/metrics'): Promise<{ status: number; text: string; type: string | null }> {
  const res = await fetch(`http://${d.metricsAddress}${path}`);
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

const line = (text: string, prefix: string) => text.split('\n').find((l) => l.startsWith(prefix));

describe('[metrics] address', () => {
  it('serves grpc_server_* metrics: every method from zero, then each call counted with its code', async () => {
    const d = await start({ address: '127.0.0.1:0' });
    const labels = 'grpc_type="unary",grpc_service="test.v1.Greeter",grpc_method="Hello"';
    let { status: code, text, type } = await scrape(d);
    expect(code).toBe(200);
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(line(text, `grpc_server_started_total{${labels}}`)).toBe(`grpc_server_started_total{${labels}} 0`);
    expect(line(text, `grpc_server_handled_total{${labels},grpc_code="DeadlineExceeded"}`)).toMatch(/ 0$/);

    expect(await hello(d, 'world')).toBe(0);
    expect(await hello(d, 'nobody')).toBe(status.NOT_FOUND);
    ({ text } = await scrape(d));
    expect(line(text, `grpc_server_started_total{${labels}}`)).toBe(`grpc_server_started_total{${labels}} 2`);
    expect(line(text, `grpc_server_handled_total{${labels},grpc_code="OK"}`)).toBe(`grpc_server_handled_total{${labels},grpc_code="OK"} 1`);
    expect(line(text, `grpc_server_handled_total{${labels},grpc_code="NotFound"}`)).toBe(`grpc_server_handled_total{${labels},grpc_code="NotFound"} 1`);
    expect(line(text, `grpc_server_msg_received_total{${labels}}`)).toMatch(/ 2$/);
    expect(line(text, `grpc_server_msg_sent_total{${labels}}`)).toMatch(/ 1$/);
    // no histogram unless grpc_histogram is set
    expect(text).not.toContain('grpc_server_handling_seconds');
    // Node's process metrics and the plugin's family
    expect(line(text, 'process_resident_memory_bytes ')).toMatch(/^process_resident_memory_bytes \d+/);
    expect(line(text, 'nodejs_eventloop_lag_seconds ')).toBeDefined();
    expect(line(text, 'test_provided ')).toBe('test_provided 7');
    // rendered at each scrape, after the registry's families, apart by a blank line
    const before = renders;
    const again = await (await fetch(`http://${d.metricsAddress}/v1/metrics`)).text();
    expect(renders).toBe(before + 1);
    expect(again).toContain(`\n\n# HELP test_rendered A rendered family\n# TYPE test_rendered gauge\ntest_rendered{scrape="${renders}"} 1\n`);
    expect(again.endsWith('} 1\n')).toBe(true);
  });

  it('grpc_histogram = true adds grpc_server_handling_seconds', async () => {
    const d = await start({ address: '127.0.0.1:0', grpc_histogram: true });
    await hello(d, 'world');
    const { text } = await scrape(d);
    expect(text).toContain('# TYPE grpc_server_handling_seconds histogram');
    const labels = 'grpc_type="unary",grpc_service="test.v1.Greeter",grpc_method="Hello"';
    expect(line(text, `grpc_server_handling_seconds_count{${labels}}`)).toMatch(/ 1$/);
    expect(line(text, `grpc_server_handling_seconds_bucket{le="10",${labels}}`)).toMatch(/ 1$/);
    // a scrape re-renders a method called since the last one
    await hello(d, 'again');
    const next = (await scrape(d)).text;
    expect(line(next, `grpc_server_handling_seconds_count{${labels}}`)).toMatch(/ 2$/);
    expect(line(next, `grpc_server_handling_seconds_bucket{le="+Inf",${labels}}`)).toMatch(/ 2$/);
    expect(line(next, `grpc_server_handled_total{${labels},grpc_code="OK"}`)).toBe(`grpc_server_handled_total{${labels},grpc_code="OK"} 2`);
  });

  it('renders each preregistered method from zero, every code, and the histogram as prom-client printed it', () => {
    const m = new GrpcServerMetrics(true);
    m.preRegister([{ path: '/pkg.S/Get', requestStream: false, responseStream: true }]);
    const text = m.render();
    const labels = 'grpc_type="server_stream",grpc_service="pkg.S",grpc_method="Get"';
    expect(text.startsWith('# HELP grpc_server_started_total Total number of RPCs started on the server.\n# TYPE grpc_server_started_total counter\n')).toBe(true);
    expect(line(text, 'grpc_server_started_total{')).toBe(`grpc_server_started_total{${labels}} 0`);
    expect(text.split('\n').filter((l) => l.startsWith('grpc_server_handled_total{'))).toHaveLength(17);
    expect(line(text, `grpc_server_handled_total{${labels},grpc_code="Unauthenticated"}`)).toMatch(/ 0$/);
    expect(text).toContain(`grpc_server_handling_seconds_bucket{le="10",${labels}} 0\ngrpc_server_handling_seconds_bucket{le="+Inf",${labels}} 0\ngrpc_server_handling_seconds_sum{${labels}} 0\ngrpc_server_handling_seconds_count{${labels}} 0\n`);
    expect(text).toContain('\n\n# HELP grpc_server_handled_total ');
  });

  it('answers other paths 404 as Go\'s mux does', async () => {
    const d = await start({ address: '127.0.0.1:0' });
    expect(await scrape(d, '/metrics')).toMatchObject({ status: 404, text: '404 page not found\n' });
  });

  it('is off by default', async () => {
    const d = await start({ address: '' });
    expect(d.metricsAddress).toBeUndefined();
  });

  it('refuses an address that is not host:port, and one in use', async () => {
    expect(() => parseTcpAddress('/run/metrics.sock')).toThrow('invalid metrics address "/run/metrics.sock": want host:port');
    expect(parseTcpAddress(':1338')).toEqual({ host: undefined, port: 1338 });
    expect(parseTcpAddress('[::1]:1338')).toEqual({ host: '::1', port: 1338 });
    const d = await start({ address: '127.0.0.1:0' });
    const config = daemonConfigSchema.parse({
      root: join(dir, 'root2'),
      state: join(dir, 'state2'),
      grpc: { address: join(dir, 'd2.sock') },
      metrics: { address: d.metricsAddress },
    });
    const second = createDaemon({ plugins: [greeterPlugin], config, log: createLogger('fatal') });
    await expect(second.start()).rejects.toThrow(/failed to get listener for metrics endpoint: listen EADDRINUSE/);
    await second.stop();
  });
});
