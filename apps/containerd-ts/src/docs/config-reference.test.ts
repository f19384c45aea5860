import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allPlugins } from '../plugins.js';
import { configReference } from './config-reference.js';

describe('docs/config-reference.md', () => {
  it('is generated from the current schemas (run `pnpm docs:config` after changing one)', () => {
    const file = join(import.meta.dirname, '../../../../docs/config-reference.md');
    expect(readFileSync(file, 'utf8')).toBe(configReference(allPlugins()));
  });
});
