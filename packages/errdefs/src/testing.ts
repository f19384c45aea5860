// Test support: what a failed call shows a caller, for assertions on containerd's error
// classes and messages (`expect(await failure(call)).toEqual({ kind: 'NotFound', message })`).
import type { ContainerdError, ErrorKind } from './index.js';

/** The class and message of the error `p` rejects with; throws when `p` succeeds. */
export async function failure(p: Promise<unknown>): Promise<{ kind: ErrorKind; message: string }> {
  const err = await rejection(p);
  return { kind: err.kind, message: err.message };
}

/** The gRPC code and message of the error `p` rejects with; throws when `p` succeeds. */
export async function failureCode(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  const err = await rejection(p);
  return { code: err.code, message: err.message };
}

async function rejection(p: Promise<unknown>): Promise<ContainerdError> {
  const err = (await p.then(
    () => undefined,
    (e: unknown) => e,
  )) as ContainerdError | undefined;
  if (!err) throw new Error('expected the call to fail');
  return err;
}
