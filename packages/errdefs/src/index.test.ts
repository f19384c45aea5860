import { describe, expect, it } from 'vitest';
import { ContainerdError, GrpcCode, fromGrpcStatus, goErrorText, isNotFound, notFound, toGrpcStatus } from './index.js';

describe('errdefs', () => {
  it('formats messages as containerd does and maps to gRPC codes', () => {
    const err = notFound('content digest sha256:abc');
    expect(err.message).toBe('content digest sha256:abc: not found');
    expect(toGrpcStatus(err)).toEqual({ code: GrpcCode.NOT_FOUND, details: 'content digest sha256:abc: not found' });
    expect(isNotFound(err)).toBe(true);
  });
  it('maps unclassified errors to Unknown', () => {
    expect(toGrpcStatus(new Error('boom'))).toEqual({ code: GrpcCode.UNKNOWN, details: 'boom' });
  });
  it('decodes remote errors keeping their message', () => {
    const err = fromGrpcStatus(GrpcCode.ALREADY_EXISTS, 'namespace x: already exists');
    expect(err).toBeInstanceOf(ContainerdError);
    expect(err.kind).toBe('already-exists');
    expect(err.message).toBe('namespace x: already exists');
  });
});

describe('errors from another copy of errdefs', () => {
  it('are classified by name and kind', () => {
    const foreign = Object.assign(new Error('blob x: not found'), { name: 'ContainerdError', kind: 'not-found' });
    expect(isNotFound(foreign)).toBe(true);
    expect(toGrpcStatus(foreign)).toEqual({ code: GrpcCode.NOT_FOUND, details: 'blob x: not found' });
    const impostor = Object.assign(new Error('x'), { name: 'ContainerdError', kind: 'bogus' });
    expect(toGrpcStatus(impostor).code).toBe(GrpcCode.UNKNOWN);
  });
});

describe('remote codes without a class of their own', () => {
  it('pass through toGrpcStatus unchanged', () => {
    const err = fromGrpcStatus(GrpcCode.RESOURCE_EXHAUSTED, 'message length 5000000 exceed maximum message size of 4194304');
    expect(err.kind).toBe('unknown');
    expect(err.code).toBe(GrpcCode.RESOURCE_EXHAUSTED);
    expect(toGrpcStatus(err)).toEqual({ code: GrpcCode.RESOURCE_EXHAUSTED, details: 'message length 5000000 exceed maximum message size of 4194304' });
    expect(toGrpcStatus(fromGrpcStatus(GrpcCode.INTERNAL, 'x')).code).toBe(GrpcCode.INTERNAL);
    expect(toGrpcStatus(fromGrpcStatus(99, 'x')).code).toBe(GrpcCode.UNKNOWN);
  });

  it('goErrorText: a received error as errdefs.FromGRPC words it, the class at the end once', () => {
    const exists = 'blob with expected digest sha256:ab exists';
    expect(goErrorText(fromGrpcStatus(GrpcCode.ALREADY_EXISTS, exists))).toBe(`${exists}: already exists`);
    expect(goErrorText(fromGrpcStatus(GrpcCode.NOT_FOUND, 'content digest sha256:ab: not found'))).toBe('content digest sha256:ab: not found');
    expect(goErrorText(fromGrpcStatus(GrpcCode.NOT_FOUND, 'not found'))).toBe('not found');
    expect(goErrorText(fromGrpcStatus(GrpcCode.INTERNAL, 'boom'))).toBe('boom: unknown');
    expect(goErrorText(new Error('plain'))).toBe('plain');
  });
});
