// The scope of one request: its namespace and lease, as containerd carries them in
// gRPC metadata, plus containerd's identifier rules for namespace names and IDs.
import { ContainerdError, failedPrecondition, invalidArgument } from '@containerd-ts/errdefs';

/** gRPC metadata key carrying the namespace (containerd's `containerd-namespace`). */
export const NAMESPACE_HEADER = 'containerd-namespace';
/** ttrpc metadata key carrying the namespace. */
export const NAMESPACE_HEADER_TTRPC = 'containerd-namespace-ttrpc';
/** gRPC metadata key carrying the lease ID. */
export const LEASE_HEADER = 'containerd-lease';
/** Namespace `ctr` uses when none is given. */
export const DEFAULT_NAMESPACE = 'default';

/** What a store method needs to know about the request it serves. */
export interface RequestContext {
  /** Namespace of the request; required by namespaced stores. */
  readonly namespace?: string;
  /** Lease that holds anything the request creates. */
  readonly lease?: string;
  /** Aborted when the client goes away. */
  readonly signal?: AbortSignal;
}

/** A context with no namespace, for stores that are not namespaced (the local content store). */
export const backgroundContext: RequestContext = Object.freeze({});

const maxLength = 76;
// Same alphabet containerd accepts for identifiers: alphanumerics, separated by
// single '.', '_' or '-', starting and ending with an alphanumeric.
const identifierPattern = /^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$/;

/** Validates a namespace name, container ID, lease ID, … as containerd's identifiers.Validate does. */
export function validateIdentifier(id: string): void {
  if (id.length === 0) throw invalidArgument('identifier must not be empty');
  if (id.length > maxLength) throw invalidArgument(`identifier ${JSON.stringify(id)} greater than maximum length (${maxLength} characters)`);
  if (!identifierPattern.test(id)) throw invalidArgument(`identifier ${JSON.stringify(id)} must match ${identifierPattern.source}`);
}

/** The request's namespace, or a failed-precondition error as containerd's namespaces.NamespaceRequired. */
export function namespaceRequired(ctx: RequestContext): string {
  const ns = ctx.namespace;
  if (!ns) throw failedPrecondition('namespace is required');
  try {
    validateIdentifier(ns);
  } catch (err) {
    // containerd's NamespaceRequired prefixes the identifier error.
    throw new ContainerdError('invalid-argument', `namespace validation: ${(err as Error).message.replace(/: invalid argument$/, '')}`);
  }
  return ns;
}
