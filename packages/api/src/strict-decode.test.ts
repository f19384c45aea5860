// The strict wire check says what containerd 1.6's gogo decoders say about a body.
import { describe, expect, it } from 'vitest';
import { CreateRequest } from './gen/github.com/containerd/containerd/api/services/leases/v1/leases.js';
import { requestTypeOf, wireProblem } from './strict-decode.js';

const create = requestTypeOf('/containerd.services.leases.v1.Leases/Create')!;
const hex = (h: string) => Buffer.from(h, 'hex');

describe('wireProblem', () => {
  it('knows every method request type', () => {
    expect(create).toBe('containerd.services.leases.v1.CreateRequest');
    expect(requestTypeOf('/containerd.services.content.v1.Content/Write')).toBe('containerd.services.content.v1.WriteContentRequest');
    expect(requestTypeOf('/nope.Service/M')).toBeUndefined();
  });

  it('accepts valid messages, unknown fields with a proper encoding included', () => {
    const valid = CreateRequest.encode({ id: 'l1', labels: { a: 'b', 'containerd.io/gc.expire': 'x' } }).finish();
    expect(wireProblem(create, valid)).toBeUndefined();
    expect(wireProblem(create, new Uint8Array())).toBeUndefined();
    // field 31 varint, field 32 fixed64, field 33 bytes, field 34 fixed32, a group as field 35
    expect(wireProblem(create, hex('0a026964f80102810200000000000000008a02026869950200000000' + '9b02080ca402'))).toBeUndefined();
  });

  it.each([
    ['0801', 'proto: wrong wireType = 0 for field ID'],
    ['0a02696418', 'proto: wrong wireType = 0 for field Labels'],
    ['0a0569', 'unexpected EOF'],
    ['ffffffff', 'unexpected EOF'],
    ['0aff', 'unexpected EOF'],
    ['00', 'proto: CreateRequest: illegal tag 0 (wire type 0)'],
    ['0c', 'proto: CreateRequest: wiretype end group for non-group'],
    ['0a026964f801ffffffffffffffffffff01', 'proto: integer overflow'],
    ['0a026964ff01', 'proto: illegal wireType 7'],
    ['0a026964fc01', 'proto: CreateRequest: wiretype end group for non-group'],
    ['0a026964f90100', 'unexpected EOF'],
  ])('refuses %s: %s', (body, problem) => {
    expect(wireProblem(create, hex(body))).toBe(problem);
  });

  it('checks nested messages with their own names', () => {
    const diff = requestTypeOf('/containerd.services.diff.v1.Diff/Diff')!;
    // left (field 1) is a repeated Mount: a Mount whose type (field 1) is a varint
    expect(wireProblem(diff, hex('0a020801'))).toBe('proto: wrong wireType = 0 for field Type');
    expect(wireProblem(diff, hex('0a0100'))).toBe('proto: Mount: illegal tag 0 (wire type 0)');
  });
});
