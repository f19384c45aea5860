import { defineConfig } from 'vitest/config';

// src/re2js.cts is TypeScript too (CommonJS): transformed as the .ts files are.
export default defineConfig({ oxc: { include: /\.[cm]?tsx?$/ } });
