// Errors of layer application that callers tell apart by class (kept in a module of their
// own so the apply worker's error transport can rebuild them without importing the applier).

/** A layer entry that breaks the rules of layer tars (containerd's errInvalidArchive). */
export class InvalidArchiveError extends Error {
  constructor(message: string) {
    super(`${message}: invalid archive`);
    this.name = 'InvalidArchiveError';
  }
}
