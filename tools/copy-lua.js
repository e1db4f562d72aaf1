#!/usr/bin/env node
// Copies the Lua scripts (src/commands/**/*.lua) beside the compiled loader, and the console's
// browser assets (src/dashboard/assets) beside the dashboard: tsc ships only what it compiles. Scripts left from an earlier build go first: the loader refuses two files of
// one name. Usage: node tools/copy-lua.js <outDir of src> (dist, or .bench/src).
import { cpSync, readdirSync, rmSync } from 'node:fs';

const out = process.argv[2];
if (!out) throw new Error('usage: node tools/copy-lua.js <outDir>');
const dest = `${out}/commands`;
for (const f of readdirSync(dest, { withFileTypes: true })) {
  if (f.name.endsWith('.lua') || (f.isDirectory() && f.name === 'includes'))
    rmSync(`${dest}/${f.name}`, { recursive: true });
}
cpSync('src/commands', dest, { recursive: true, filter: (path) => !path.endsWith('.ts') });
cpSync('src/dashboard/assets', `${out}/dashboard/assets`, { recursive: true });
