// containerd-ts gives its runc containers a runc state root of their own, so a container
// `web` in namespace `default` here does not collide with one of the same name under a
// containerd on the same host (the shim's default is /run/containerd/runc/<namespace>).
// A Root the user set in the runtime options wins.
import { type Any, packAny, typeUrlOf, unpackAs } from '@containerd-ts/api';
import { Options as RuncOptions } from '@containerd-ts/api/runtime/runc-options';
import { basename } from 'node:path';
import { shimBinaryName } from './binary.js';

const RUNC_SHIMS = new Set(['containerd-shim-runc-v1', 'containerd-shim-runc-v2']);

/** Whether a runtime (name or shim path) is one of the runc shims. */
export function isRuncRuntime(runtime: string): boolean {
  return RUNC_SHIMS.has(runtime.startsWith('/') ? basename(runtime) : shimBinaryName(runtime));
}

/**
 * The runtime options to hand the shim: runc Options with `Root` set to `runcRoot` when
 * the user left it empty (or sent no options) for a runc shim; anything else unchanged.
 */
export function withRuncRoot(runtime: string, options: Any | undefined, runcRoot: string): Any | undefined {
  if (runcRoot === '') return options;
  if (options === undefined || options.typeUrl === '') {
    return isRuncRuntime(runtime) ? packAny(RuncOptions, RuncOptions.fromPartial({ root: runcRoot })) : options;
  }
  if (options.typeUrl !== typeUrlOf(RuncOptions)) return options;
  const decoded = unpackAs(options, RuncOptions);
  if (decoded.root !== '') return options;
  return packAny(RuncOptions, { ...decoded, root: runcRoot });
}
