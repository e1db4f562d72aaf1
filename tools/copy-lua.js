#!/usr/bin/env node
// Copies the Lua scripts (src/commands/**/*.lua) beside the compiled loader: tsc ships only
// what it compiles. Usage: node tools/copy-lua.js <outDir of src> (dist, or .bench/src).
import { cpSync } from 'node:fs';

const out = process.argv[2];
if (!out) throw new Error('usage: node tools/copy-lua.js <outDir>');
cpSync('src/commands', `${out}/commands`, {
  recursive: true,
  filter: (path) => !path.endsWith('.ts'),
});
