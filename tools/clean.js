#!/usr/bin/env node
// Removes a build's output folder first, so that nothing a deleted source once compiled to is
// published or run. Usage: node tools/clean.js <dir>.
import { rmSync } from 'node:fs';

const dir = process.argv[2];
if (!dir) throw new Error('usage: node tools/clean.js <dir>');
rmSync(dir, { recursive: true, force: true });
