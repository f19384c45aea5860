import { WriteAction, WriteContentRequest } from '@containerd-ts/api/services/content';
import { describe, expect, it } from 'vitest';
import { encodeWriteRequest } from './content.js';

describe('encodeWriteRequest', () => {
  it('is a WRITE request the generated decoder reads back: offset and the chunks in order', () => {
    const chunks = [Buffer.from('hello '), new Uint8Array([0, 1, 2, 255]), Buffer.alloc(200_000, 7)];
    for (const offset of [0, 1, 127, 128, 300, 2 ** 31, 2 ** 40 + 5, Number.MAX_SAFE_INTEGER]) {
      const req = WriteContentRequest.decode(encodeWriteRequest(offset, chunks));
      expect(req.action).toBe(WriteAction.WRITE);
      expect(req.offset).toBe(offset);
      expect(req.ref).toBe('');
      expect(req.total).toBe(0);
      expect(Buffer.from(req.data).equals(Buffer.concat(chunks))).toBe(true);
    }
  });

  it('encodes as the generated encoder does', () => {
    const data = Buffer.from('0123456789'.repeat(50));
    for (const offset of [0, 5, 1 << 20, 2 ** 33]) {
      const theirs = Buffer.from(WriteContentRequest.encode({ action: WriteAction.WRITE, ref: '', total: 0, expected: '', offset, data, labels: {} }).finish());
      expect(encodeWriteRequest(offset, [data.subarray(0, 3), data.subarray(3)]).equals(theirs)).toBe(true);
    }
  });

  it('leaves out empty data', () => {
    const req = WriteContentRequest.decode(encodeWriteRequest(42, []));
    expect(req.action).toBe(WriteAction.WRITE);
    expect(req.offset).toBe(42);
    expect(req.data.length).toBe(0);
  });
});
