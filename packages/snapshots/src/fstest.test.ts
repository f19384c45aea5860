import { link, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lsetxattr } from '@containerd-ts/sys';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apply, chown, createDir, createFile, createSymlink, diffTrees, renamePath } from './fstest.js';

describe('tree comparison', () => {
  let a: string;
  let b: string;
  const base = apply(createDir('/d', 0o755), createFile('/d/f', 'x', 0o644), createSymlink('d/f', '/s'));
  beforeEach(async () => {
    a = await mkdtemp(join(tmpdir(), 'fstest-a-'));
    b = await mkdtemp(join(tmpdir(), 'fstest-b-'));
    await base(a);
    await base(b);
  });
  afterEach(async () => {
    await rm(a, { recursive: true, force: true });
    await rm(b, { recursive: true, force: true });
  });

  it('finds equal trees equal', async () => {
    expect(await diffTrees(a, b)).toEqual([]);
  });

  it('reports every difference a layer can make', async () => {
    await createFile('/d/f', 'y', 0o600)(b);
    await chown('/d', 1, 2)(b);
    await createFile('/extra', '', 0o644)(b);
    await renamePath('/s', '/t')(b);
    lsetxattr(join(b, 'd'), 'user.k', 'v');
    const lines = await diffTrees(a, b);
    expect(lines).toEqual([
      '~ /d: uid 0 != 1',
      '~ /d: gid 0 != 2',
      `~ /d: xattrs [] != ["user.k=${Buffer.from('v').toString('hex')}"]`,
      '~ /d/f: mode "644" != "600"',
      expect.stringMatching(/^~ \/d\/f: digest "sha256:[0-9a-f]+" != "sha256:[0-9a-f]+"$/),
      '- /s (symlink)',
      '+ /extra (file)',
      '+ /t (symlink)',
    ]);
  });

  it('sees hard-link groups', async () => {
    await writeFile(join(a, 'g'), 'x');
    await link(join(a, 'd', 'f'), join(a, 'h'));
    await writeFile(join(b, 'g'), 'x');
    await writeFile(join(b, 'h'), 'x');
    expect(await diffTrees(a, b)).toEqual(['~ hard links [["/d/f","/h"]] != []']);
  });
});
