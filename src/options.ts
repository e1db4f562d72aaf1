/**
 * What every role's options share: an unknown key is a mistake, not something to ignore.
 * `new Producer({ queue: 'q1' })` (a slip for `queueName`) would otherwise send to the default
 * queue without a word; it is refused here with the key and the closest known option.
 */
import { InvalidOptionError } from './errors.js';

/** Edit distance (insertions, deletions, substitutions), for "did you mean". */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] as number;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      prev[j] = Math.min(up + 1, (prev[j - 1] as number) + 1, diag + cost);
      diag = up;
    }
  }
  return prev[b.length] as number;
}

/** The known option nearest to `key`: by edit distance, case-insensitive; a part of it wins. */
export function closest(key: string, known: readonly string[]): string | undefined {
  const k = key.toLowerCase();
  let best: string | undefined;
  let bestScore = Infinity;
  for (const name of known) {
    const n = name.toLowerCase();
    const score = n.startsWith(k) || n.endsWith(k) || k.startsWith(n) ? 0.5 : distance(k, n);
    if (score < bestScore) [best, bestScore] = [name, score];
  }
  // A suggestion that shares almost nothing with the key would only mislead.
  return best !== undefined && bestScore <= Math.max(2, Math.ceil(key.length * 0.7))
    ? best
    : undefined;
}

/**
 * Throws INVALID_OPTION for the first key of `opts` that `known` does not list, naming the role,
 * the key and the closest known option. Keys whose value is undefined are checked too: a typo is
 * a typo whatever its value.
 */
export function checkKnownKeys(role: string, opts: object, known: readonly string[]): void {
  for (const key of Object.keys(opts)) {
    if (known.includes(key)) continue;
    const near = closest(key, known);
    throw new InvalidOptionError(
      `${role} options: unknown option ${JSON.stringify(key)}` +
        (near ? ` (did you mean ${JSON.stringify(near)}?)` : '') +
        `; known options: ${known.join(', ')}`,
    );
  }
}

/**
 * The keys of an options interface, checked by the compiler both ways: a key missing here or one
 * the interface does not have is a type error, so the list cannot drift from the interface.
 */
export function optionKeys<T>(keys: { readonly [K in keyof Required<T>]: true }): string[] {
  return Object.keys(keys);
}

/** An integer option in range, or an error naming it, the range and what was given. */
export function intInRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(`${name} must be an integer in ${min}..${max} (got ${value})`);
  }
  return value;
}

/** A queue name: it ends up in Redis keys and CLI output. */
export function assertQueueName(name: string, what = 'queueName'): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
    throw new InvalidOptionError(
      `${what} must be 1..64 characters of letters, digits, '_', '.', '-' (got ${JSON.stringify(name)})`,
    );
  }
  return name;
}

/**
 * An option given as `undefined` means its default, for every options object:
 * `{ connection: process.env.REDIS_URL }` with the variable unset is `{}`.
 */
export function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
