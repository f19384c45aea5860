// The top-level config.toml schema (version 2), with containerd-ts's built-in defaults.
import { z } from 'zod';

export const DEFAULT_ROOT = '/var/lib/containerd-ts';
export const DEFAULT_STATE = '/run/containerd-ts';
export const DEFAULT_ADDRESS = '/run/containerd-ts/containerd-ts.sock';
export const DEFAULT_CONFIG_PATH = '/etc/containerd-ts/config.toml';
const MiB16 = 16 << 20;

/**
 * How config is parsed: without zod's JIT. zod compiles a fast parser for each object
 * schema (`new Function`) the first time it parses one — ~20 ms for the daemon's and its
 * plugins' sections at every start, to save microseconds on a parse that happens once.
 */
export const PARSE_ONCE = { jitless: true } as const;

const grpc = z
  .object({
    address: z.string().default(DEFAULT_ADDRESS).describe('Unix socket the gRPC API is served on (mode 0660, owned by uid:gid)'),
    tcp_address: z.string().default('').describe('Also serve gRPC on this TCP address (host:port); empty = no TCP'),
    tcp_tls_ca: z.string().default(''),
    tcp_tls_cert: z.string().default(''),
    tcp_tls_key: z.string().default(''),
    uid: z.number().int().nonnegative().default(0),
    gid: z.number().int().nonnegative().default(0),
    max_recv_message_size: z.number().int().positive().default(MiB16).describe('Largest gRPC message accepted, in bytes'),
    max_send_message_size: z.number().int().positive().default(MiB16).describe('Largest gRPC message sent, in bytes'),
  })
  .strict();

const ttrpc = z
  .object({
    address: z.string().default('').describe('Unix socket the ttrpc API (the events service shims forward to) is served on; empty = `<grpc.address>.ttrpc`'),
    uid: z.number().int().nonnegative().default(0).describe('Owner of the ttrpc socket (mode 0660)'),
    gid: z.number().int().nonnegative().default(0).describe('Group of the ttrpc socket'),
  })
  .strict();

const debug = z
  .object({
    address: z.string().default('').describe('Unix socket of the debug endpoint (/debug/vars, /debug/pprof/heap, /debug/pprof/profile); empty = off'),
    uid: z.number().int().nonnegative().default(0).describe('Owner of the debug socket (mode 0660)'),
    gid: z.number().int().nonnegative().default(0).describe('Group of the debug socket'),
    level: z
      .enum(['', 'trace', 'debug', 'info', 'warn', 'warning', 'error', 'fatal', 'panic'])
      .default('')
      .describe('Least severe level logged (empty = info); --log-level overrides it'),
    format: z
      .enum(['', 'text', 'json'])
      .default('')
      .describe('Log line format on stderr: logrus text (coloured on a terminal; empty = text) or JSON'),
  })
  .strict();

const metrics = z
  .object({
    address: z.string().default('').describe('Serve Prometheus metrics at http://<address>/v1/metrics (host:port); empty = off'),
    grpc_histogram: z.boolean().default(false).describe('Add the gRPC handling-time histograms (grpc_server_handling_seconds)'),
  })
  .strict();

const cgroup = z.object({ path: z.string().default('') }).strict();

export const proxyPluginSchema = z
  .object({
    type: z.enum(['snapshot', 'content', 'diff']),
    address: z.string().min(1),
    platform: z.string().optional(),
    exports: z.record(z.string(), z.string()).optional(),
    capabilities: z.array(z.string()).optional(),
  })
  .strict();

const streamProcessor = z
  .object({
    accepts: z.array(z.string()).default([]),
    returns: z.string().default(''),
    path: z.string().default(''),
    args: z.array(z.string()).default([]),
    env: z.array(z.string()).default([]),
  })
  .strict();

export const defaultTimeouts: Record<string, string> = {
  'io.containerd.timeout.shim.cleanup': '5s',
  'io.containerd.timeout.shim.load': '5s',
  'io.containerd.timeout.shim.shutdown': '3s',
  'io.containerd.timeout.task.state': '2s',
};

const uriList = z.array(z.string());

/** The daemon's own keys; `plugins` sections are validated by each plugin's schema. */
export const daemonConfigSchema = z
  .object({
    version: z.number().int().min(1).max(2).default(2).describe('Config format version; 1 is migrated in memory with a warning'),
    root: z.string().default(DEFAULT_ROOT).describe('Persistent data; each plugin gets <root>/<type>.<id>'),
    state: z.string().default(DEFAULT_STATE).describe('Runtime data, cleared on reboot; each plugin gets <state>/<type>.<id>'),
    temp: z.string().default(''),
    plugin_dir: z.string().default('').describe('Directory of third-party plugins (ES modules) loaded at start'),
    disabled_plugins: uriList.default([]).describe('Plugin URIs (<type>.<id>) removed before init'),
    required_plugins: uriList.default([]).describe('Plugin URIs that must load, or the daemon refuses to start'),
    oom_score: z.number().int().min(-1000).max(1000).default(0).describe('oom_score_adj of the daemon process (never lowered)'),
    imports: z.array(z.string()).default([]).describe('More config files (paths or globs, relative to this file) merged in order'),
    grpc: grpc.default(grpc.parse({}, PARSE_ONCE)),
    ttrpc: ttrpc.default(ttrpc.parse({}, PARSE_ONCE)),
    debug: debug.default(debug.parse({}, PARSE_ONCE)),
    metrics: metrics.default(metrics.parse({}, PARSE_ONCE)),
    cgroup: cgroup.default(cgroup.parse({}, PARSE_ONCE)),
    timeouts: z.record(z.string(), z.string()).default(defaultTimeouts).describe('Named timeouts as Go durations'),
    plugins: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
    proxy_plugins: z.record(z.string(), proxyPluginSchema).default({}),
    stream_processors: z.record(z.string(), streamProcessor).default({}),
  })
  .strict();

export type DaemonConfig = z.output<typeof daemonConfigSchema>;
export type ProxyPluginConfig = z.output<typeof proxyPluginSchema>;
