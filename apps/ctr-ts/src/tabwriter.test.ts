import { describe, expect, it } from 'vitest';
import { TabWriter } from './tabwriter.js';

describe('TabWriter (Go text/tabwriter semantics, minwidth 4, padding 4)', () => {
  it('aligns a table with trailing tab cells as ctr plugins ls does', () => {
    const w = new TabWriter(4, 4);
    w.write('TYPE\tID\tPLATFORMS\tSTATUS\t\n');
    w.write('io.containerd.content.v1\tcontent\t-\tok\t\n');
    w.write('io.containerd.snapshotter.v1\tbtrfs\tlinux/amd64\tskip\t\n');
    expect(w.flush()).toBe(
      [
        'TYPE                            ID         PLATFORMS      STATUS    ',
        'io.containerd.content.v1        content    -              ok        ',
        'io.containerd.snapshotter.v1    btrfs      linux/amd64    skip      ',
        '',
      ].join('\n'),
    );
  });

  it('reproduces ctr plugins ls -d output (captured from containerd)', () => {
    const w = new TabWriter(4, 4);
    const msg = 'path /var/lib/containerd/io.containerd.snapshotter.v1.btrfs (ext4) must be a btrfs filesystem to be used with the btrfs snapshotter: skip plugin';
    w.println('Type:\t', 'io.containerd.snapshotter.v1');
    w.println('ID:\t', 'btrfs');
    w.println('Platforms:\t', 'linux/amd64');
    w.println('Exports:\t');
    w.println('\t', 'root', '\t', '/var/lib/containerd/io.containerd.snapshotter.v1.btrfs');
    w.println('Error:\t');
    w.println('\t Code:\t', 'Unknown');
    w.println('\t Message:\t', msg);
    w.println('\t\t\t');
    w.println('Type:\t', 'io.containerd.grpc.v1');
    w.println('ID:\t', 'namespaces');
    w.println('Requires:\t');
    w.println('\t', 'io.containerd.service.v1');
    expect(w.flush()).toBe(
      [
        'Type:          io.containerd.snapshotter.v1',
        'ID:            btrfs',
        'Platforms:     linux/amd64',
        'Exports:      ',
        '               root      /var/lib/containerd/io.containerd.snapshotter.v1.btrfs',
        'Error:        ',
        '               Code:        Unknown',
        `               Message:     ${msg}`,
        '                               ',
        'Type:          io.containerd.grpc.v1',
        'ID:            namespaces',
        'Requires:     ',
        '               io.containerd.service.v1',
        '',
      ].join('\n'),
    );
  });

  it('a line without tabs ends the blocks', () => {
    const w = new TabWriter(4, 4);
    w.write('a\tb\n');
    w.write('plain\n');
    w.write('longer\tc\n');
    expect(w.flush()).toBe('a    b\nplain\nlonger    c\n');
  });
});
