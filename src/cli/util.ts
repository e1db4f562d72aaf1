import { InvalidArgumentError } from 'commander';

/** A commander parser for a whole number flag; commander's error names the flag. */
export function intArg(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`must be a whole number in ${min}..${max}`);
    }
    return n;
  };
}

/** Exit codes, as the README documents them. */
export const EXIT = { ok: 0, rejected: 1, usage: 2, halted: 3, failed: 1 } as const;

/** Writes a line to stdout, waiting if the pipe is full (results of a million rows). */
export function writeLine(line: string): Promise<void> | void {
  if (!process.stdout.write(line + '\n')) {
    return new Promise((resolve) => process.stdout.once('drain', () => resolve()));
  }
}
