import { describe, expect, it } from 'vitest';
import { type BatchWriter, GroupCommit } from './index.js';

interface Batch {
  items: string[];
}

/** A writer whose writes finish when the test says: records every batch and what happened. */
function controlledWriter() {
  const writes: Array<{ items: string[]; finish: () => void; fail: (err: Error) => void }> = [];
  const events: string[] = [];
  const io: BatchWriter<Batch> = {
    create: () => ({ items: [] }),
    write: (batch) =>
      new Promise<void>((resolve, reject) => {
        events.push(`write ${batch.items.join(',')}`);
        writes.push({ items: [...batch.items], finish: resolve, fail: reject });
      }),
    written: (batch) => events.push(`written ${batch.items.join(',')}`),
    failed: (err, batch, dependent) => events.push(`failed ${batch.items.join(',')} (${(err as Error).message}) dependent ${dependent?.items.join(',') ?? '-'}`),
  };
  return { io, writes, events };
}

const tick = () => new Promise((r) => setImmediate(r));

/** A transaction that adds `item` to a batch and records when it answered. */
const add = (group: GroupCommit<Batch>, item: string, events: string[]) =>
  group
    .transaction(async (join) => {
      join((b) => b.items.push(item));
      return item;
    })
    .then(
      (r) => events.push(`answered ${r}`),
      (err: Error) => events.push(`rejected ${item}: ${err.message}`),
    );

describe('GroupCommit', () => {
  it('writes the transactions that finish during a write together in the next batch, each answering only once its batch is durable', async () => {
    const { io, writes, events } = controlledWriter();
    const group = new GroupCommit(io);
    const first = add(group, 'a', events);
    await tick();
    expect(writes.map((w) => w.items)).toEqual([['a']]);
    const rest = ['b', 'c', 'd'].map((x) => add(group, x, events));
    await tick();
    // b, c and d wait in one batch behind a; nothing has answered yet
    expect(writes.length).toBe(1);
    expect(group.pending()).toEqual([{ items: ['a'] }, { items: ['b', 'c', 'd'] }]);
    expect(events).toEqual(['write a']);
    writes[0]!.finish();
    await first;
    await tick();
    expect(writes.map((w) => w.items)).toEqual([['a'], ['b', 'c', 'd']]);
    // the next batch is written as soon as a is durable, while a's answer is on its way
    expect(events).toEqual(['write a', 'written a', 'write b,c,d', 'answered a']);
    writes[1]!.finish();
    await Promise.all(rest);
    expect(events.slice(4)).toEqual(['written b,c,d', 'answered b', 'answered c', 'answered d']);
    expect(group.pending()).toEqual([]);
  });

  it('a transaction that wrote nothing, or threw, answers only after the batches it saw', async () => {
    const { io, writes, events } = controlledWriter();
    const group = new GroupCommit(io);
    const a = add(group, 'a', events);
    await tick();
    const readOnly = group.transaction(async () => 'read').then((r) => events.push(`answered ${r}`));
    const failing = group
      .transaction(async () => {
        throw new Error('bad input');
      })
      .catch((err: Error) => events.push(`rejected: ${err.message}`));
    await tick();
    await tick();
    expect(events).toEqual(['write a']);
    writes[0]!.finish();
    await Promise.all([a, readOnly, failing]);
    expect(events).toEqual(['write a', 'written a', 'answered a', 'answered read', 'rejected: bad input']);
    expect(writes.length).toBe(1);
  });

  it('a failed batch fails its transactions and the batch built on it; the store goes on with new batches', async () => {
    const { io, writes, events } = controlledWriter();
    const group = new GroupCommit(io);
    const a = add(group, 'a', events);
    await tick();
    const b = add(group, 'b', events);
    await tick();
    writes[0]!.fail(new Error('disk full'));
    await Promise.all([a, b]);
    expect(events).toEqual(['write a', 'failed a (disk full) dependent b', 'rejected a: disk full', 'rejected b: disk full']);
    // b's batch was never written
    expect(writes.length).toBe(1);
    const c = add(group, 'c', events);
    await tick();
    writes[1]!.finish();
    await c;
    expect(writes.map((w) => w.items)).toEqual([['a'], ['c']]);
    expect(events.slice(-2)).toEqual(['written c', 'answered c']);
  });

  it('a write that throws at once fails like one that rejects', async () => {
    const group = new GroupCommit<Batch>({
      create: () => ({ items: [] }),
      write: () => {
        throw new Error('closed');
      },
    });
    await expect(group.transaction(async (join) => join((b) => b.items.push('x')))).rejects.toThrow('closed');
    expect(group.pending()).toEqual([]);
  });

  it('runs transactions one at a time, in arrival order', async () => {
    const group = new GroupCommit<Batch>({ create: () => ({ items: [] }), write: async () => {} });
    const order: string[] = [];
    let running = 0;
    const tx = (name: string, ms: number) =>
      group.transaction(async () => {
        running++;
        expect(running).toBe(1);
        order.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, ms));
        order.push(`end ${name}`);
        running--;
      });
    await Promise.all([tx('slow', 20), tx('fast', 0), tx('mid', 5)]);
    expect(order).toEqual(['start slow', 'end slow', 'start fast', 'end fast', 'start mid', 'end mid']);
  });

  it('exclusive waits for every batch and keeps transactions out while it runs', async () => {
    const { io, writes, events } = controlledWriter();
    const group = new GroupCommit(io);
    const a = add(group, 'a', events);
    await tick();
    const b = add(group, 'b', events);
    await tick();
    const exclusive = group.exclusive(async () => {
      events.push(`exclusive, pending ${group.pending().length}`);
    });
    const c = add(group, 'c', events);
    await tick();
    writes[0]!.finish();
    await a;
    await tick();
    expect(events).not.toContain('exclusive, pending 0');
    writes[1]!.finish();
    await Promise.all([b, exclusive]);
    expect(events.indexOf('exclusive, pending 0')).toBeGreaterThan(events.indexOf('answered b'));
    await tick();
    expect(writes.map((w) => w.items)).toEqual([['a'], ['b'], ['c']]);
    writes[2]!.finish();
    await c;
  });

  it('refuses a second join by one transaction', async () => {
    const group = new GroupCommit<Batch>({ create: () => ({ items: [] }), write: async () => {} });
    await expect(
      group.transaction(async (join) => {
        join((b) => b.items.push('1'));
        join((b) => b.items.push('2'));
      }),
    ).rejects.toThrow(/once/);
  });
});
