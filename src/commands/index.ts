/**
 * Our Lua scripts, laid out as BullMQ keeps its own (`src/commands`): one `<name>-<numberOfKeys>.lua`
 * file a script in this folder, each opening with its KEYS, ARGV and return values; shared pieces
 * live in `includes/` and are pulled in with a line `--- @include "includes/<piece>"` (each piece
 * once per script, however many includes name it). Includes define functions and their own
 * locals only: everything they touch comes in as an argument, never a local the host script must
 * happen to define. The build copies the `.lua` files beside the compiled loader (tools/copy-lua.js).
 *
 * defineCommands() registers every script on a connection as `vb<Name>` (ioredis sends EVALSHA and
 * falls back to EVAL), once per connection.
 */
import { readdirSync, readFileSync } from 'node:fs';

const DIR = new URL('./', import.meta.url);
const INCLUDE = /^--- @include "([\w/]+)"\s*$/gm;

export interface Script {
  /** Its file, `<name>-<numberOfKeys>.lua`. */
  file: string;
  /** The ioredis command name, `vb<Name>`. */
  command: string;
  numberOfKeys: number;
  /** The script with its includes expanded. */
  lua: string;
}

/** A script's text with its includes expanded (each piece once); `from` names it in errors. */
export function expand(text: string, from: string, seen = new Set<string>()): string {
  return text.replace(INCLUDE, (_line, name: string) => {
    const path = name.startsWith('includes/') ? name : `includes/${name}`;
    if (seen.has(path)) return '';
    seen.add(path);
    let body: string;
    try {
      body = readFileSync(new URL(`${path}.lua`, DIR), 'utf8');
    } catch {
      throw new Error(`${from}: include "${name}" not found (${path}.lua)`);
    }
    return expand(body, `${path}.lua`, seen);
  });
}

function load(): Map<string, Script> {
  const out = new Map<string, Script>();
  for (const file of readdirSync(DIR)) {
    const m = /^(\w+)-(\d+)\.lua$/.exec(file);
    if (!m) continue;
    const name = m[1] as string;
    const twin = out.get(name);
    if (twin)
      throw new Error(`two Lua scripts named ${name} in ${DIR.pathname}: ${file}, ${twin.file}`);
    out.set(name, {
      file,
      command: `vb${name.charAt(0).toUpperCase()}${name.slice(1)}`,
      numberOfKeys: Number(m[2]),
      lua: expand(readFileSync(new URL(file, DIR), 'utf8'), file),
    });
  }
  return out;
}

const SCRIPTS = load();

/** One script by its file name (without `-<numberOfKeys>.lua`). */
export function script(name: string): Script {
  const s = SCRIPTS.get(name);
  if (!s) throw new Error(`no Lua script ${name}-<keys>.lua in ${DIR.pathname}`);
  return s;
}

interface Definer {
  defineCommand(name: string, definition: { numberOfKeys: number; lua: string }): void;
}

const defined = new WeakSet<object>();

/** Registers every script on this connection (a Redis or a Cluster), once. */
export function defineCommands(redis: Definer): void {
  if (defined.has(redis)) return;
  for (const s of SCRIPTS.values()) {
    redis.defineCommand(s.command, { numberOfKeys: s.numberOfKeys, lua: s.lua });
  }
  defined.add(redis);
}
