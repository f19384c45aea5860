// The two ways a plugin's init can fail: expected on this host (skip) or broken (error).

const SKIP_TEXT = 'skip plugin';

/**
 * Thrown by `init` when the plugin cannot work on this host (wrong file system, missing
 * kernel feature). The message ends in `: skip plugin`, which is how `ctr plugins ls`
 * tells a skip from an error, exactly as with containerd's ErrSkipPlugin.
 */
export class SkipPluginError extends Error {
  constructor(reason: string) {
    super(reason.endsWith(SKIP_TEXT) ? reason : `${reason}: ${SKIP_TEXT}`);
    this.name = 'SkipPluginError';
  }
}

/** True for a SkipPluginError, or any error whose message says `skip plugin` (as containerd checks). */
export const isSkipPlugin = (err: unknown): boolean =>
  err instanceof SkipPluginError || (err instanceof Error && err.message.includes(SKIP_TEXT));

/** The plugin graph cannot be built (cycle, unknown type, duplicate ID). */
export class PluginGraphError extends Error {
  override name = 'PluginGraphError';
}

/** A plugin named in `required_plugins` is absent, skipped or failed. */
export class RequiredPluginError extends Error {
  override name = 'RequiredPluginError';
}
