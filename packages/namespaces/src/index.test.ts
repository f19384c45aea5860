import { isFailedPrecondition, isInvalidArgument } from '@containerd-ts/errdefs';
import { describe, expect, it } from 'vitest';
import { namespaceRequired, validateIdentifier } from './index.js';

describe('identifiers', () => {
  it.each(['default', 'k8s.io', 'a', 'a-b_c.d', '0ab'])('accepts %s', (id) => {
    expect(() => validateIdentifier(id)).not.toThrow();
  });
  it.each(['', '-a', 'a-', 'a..b', 'a/b', 'has space', 'x'.repeat(77)])('rejects %j', (id) => {
    let err: unknown;
    try {
      validateIdentifier(id);
    } catch (e) {
      err = e;
    }
    expect(isInvalidArgument(err)).toBe(true);
  });
  it('requires a namespace', () => {
    expect(() => namespaceRequired({})).toThrow('namespace is required: failed precondition');
    try {
      namespaceRequired({});
    } catch (e) {
      expect(isFailedPrecondition(e)).toBe(true);
    }
    expect(namespaceRequired({ namespace: 'default' })).toBe('default');
    expect(() => namespaceRequired({ namespace: 'bad/ns' })).toThrow(
      'namespace validation: identifier "bad/ns" must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$: invalid argument',
    );
  });
});
