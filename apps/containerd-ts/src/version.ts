// The version this build reports (ctr version shows it as the server version).
export const VERSION = 'v0.1.0';
export const REVISION = 'containerd-ts';
