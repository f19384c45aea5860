import { describe, expect, it } from 'vitest';
import { displayStatuses, progressBar, progressBytes } from './progress.js';

describe("ctr's progress display", () => {
  it('formats bytes and bars as pkg/progress', () => {
    expect(progressBytes(0)).toBe('0.0 B');
    expect(progressBytes(749)).toBe('749.0 B');
    expect(progressBytes(2_608_000)).toBe('2.5 MiB');
    expect(progressBar(1)).toBe(`|\x1b[32m${'+'.repeat(38)}\x1b[0m|`);
    expect(progressBar(0)).toBe(`|\x1b[32m\x1b[0m${'-'.repeat(38)}|`);
    expect(progressBar(0.5)).toBe(`|\x1b[32m${'+'.repeat(19)}\x1b[0m${'-'.repeat(19)}|`);
  });

  it('prints a table of jobs and the elapsed/total line', () => {
    const text = displayStatuses(
      [
        { ref: 'example.com/x:1', status: 'resolved', offset: 0, total: 0 },
        { ref: 'layer-sha256:aa', status: 'downloading', offset: 1024, total: 4096 },
        { ref: 'config-sha256:bb', status: 'waiting', offset: 0, total: 0 },
      ],
      1500,
    );
    const lines = text.split('\n');
    // The status column is as wide as the `total:` cell of the last line.
    expect(lines[0]).toBe(`example.com/x:1:  resolved       ${progressBar(1)} `);
    expect(lines[1]).toBe(`layer-sha256:aa:  downloading    ${progressBar(0.25)}  1.0 KiB/4.0 KiB `);
    expect(lines[2]).toBe(`config-sha256:bb: waiting        ${progressBar(0)} `);
    // %-4.1fs, %7.6v of the total and its rate.
    expect(lines[3]).toMatch(/^elapsed: 1\.5 s +total: {2}1\.0 Ki +\(682\.0 B\/s\) +$/);
  });
});
