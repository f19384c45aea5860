// Bundling a daemon built on @containerd-ts/daemon: bundleDaemon, and the bundle-daemon CLI.
export { type BundleOptions, type BundleResult, DEFAULT_EXTERNALS, bundleDaemon } from './bundle.js';
