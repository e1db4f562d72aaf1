import { readdirSync, readFileSync } from 'node:fs';
import { expand, script } from '../src/commands/index.js';
import { testRedis } from './helpers.js';

const DIR = new URL('../src/commands/', import.meta.url);
const files = readdirSync(DIR).filter((f) => f.endsWith('.lua'));
const names = files.map((f) => f.replace(/-\d+\.lua$/, ''));

describe('the Lua scripts (src/commands)', () => {
  it('are one file each, named <name>-<numberOfKeys>, opening with their KEYS and ARGV', () => {
    expect(files.length).toBeGreaterThanOrEqual(14);
    for (const f of files) {
      const text = readFileSync(new URL(f, DIR), 'utf8');
      expect(text.startsWith('--[[')).toBe(true);
      const keys = Number(/-(\d+)\.lua$/.exec(f)?.[1]);
      // The header names its highest key, and the body uses no key past it.
      const used = [...text.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1]));
      expect(Math.max(0, ...used)).toBe(keys);
      // No host-language interpolation: a script is Lua, whole.
      expect(text).not.toMatch(/\$\{/);
    }
  });

  it('expand each include once, however many includes name it', () => {
    // activate includes counts, heldLetter and nowMs; heldLetter includes gateOf.
    const lua = script('activate').lua;
    expect(lua).not.toMatch(/--- @include/);
    expect(lua.match(/local function gateOf/g)).toHaveLength(1);
    expect(lua.match(/local function heldLetter/g)).toHaveLength(1);
    expect(lua.match(/local function bump/g)).toHaveLength(1);
    expect(script('activate')).toMatchObject({ command: 'vbActivate', numberOfKeys: 5 });
    // heldLetter includes gateOf, and so does the host: one copy.
    const both = expand('--- @include "heldLetter"\n--- @include "includes/gateOf"\n', 'x.lua');
    expect(both.match(/local function gateOf/g)).toHaveLength(1);
  });

  it('names the script and the include when an include is missing', () => {
    expect(() => expand('--- @include "nothing"\n', 'x-1.lua')).toThrow(
      'x-1.lua: include "nothing" not found (includes/nothing.lua)',
    );
  });

  it('all compile in Redis', async () => {
    const redis = await testRedis();
    try {
      for (const n of names) {
        await expect(redis.script('LOAD', script(n).lua)).resolves.toMatch(/^[0-9a-f]{40}$/);
      }
    } finally {
      redis.disconnect();
    }
  });

  it('names a script that does not exist', () => {
    expect(() => script('nope')).toThrow(/no Lua script nope-<keys>\.lua/);
  });
});
