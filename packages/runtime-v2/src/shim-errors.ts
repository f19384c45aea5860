// A shim's error status as containerd's runtime sees it: errdefs.FromGRPC gives it the
// class of its code (unknown for codes without a class, so ResourceExhausted or Internal
// reach clients as Unknown) and a message that ends in the class's text once —
// "runc did not terminate successfully: …: unknown", "process p1 does not exist: not found".
import { ContainerdError, kindOfGrpcCode } from '@containerd-ts/errdefs';

export function fromShimStatus(code: number, message: string): ContainerdError {
  const kind = kindOfGrpcCode(code);
  const text = new ContainerdError(kind).message;
  const base = message === text ? '' : message.endsWith(`: ${text}`) ? message.slice(0, -(text.length + 2)) : message;
  return new ContainerdError(kind, base === '' ? undefined : base);
}
