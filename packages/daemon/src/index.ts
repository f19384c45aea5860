// createDaemon and the pieces a daemon shell needs.
export { createDaemon, type Daemon, type DaemonOptions } from './daemon.js';
export { type DaemonCommandOptions, loadDaemonConfig, runDaemonCommand, serveDaemon, stopOnSignals } from './command.js';
export { createLogger, isLogLevel, type LogFormat, type LoggerOptions } from './logger.js';
export { prepareSocket, socketAnswers } from './socket.js';
export { loadPluginDir, type PluginDirFailure } from './plugin-dir.js';
export type { MetricsEndpoint, MetricsProvider } from './metrics.js';
export type { DebugEndpoint } from './debug.js';
