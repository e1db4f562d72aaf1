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

let readerGone = false;

/**
 * A reader that goes away (`viber-bulk results … | head -3`) is the end of the output, not an
 * error: output stops, the command finishes or stops quietly and exits 0, as `git log | head`
 * does. An enqueue whose progress reader left still enqueues every row.
 */
export function watchStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || readerGone) {
      readerGone = true;
      return;
    }
    throw err;
  });
}

/** True once stdout's reader has gone away: streaming commands stop. */
export function stdoutGone(): boolean {
  return readerGone;
}

/** Writes a line to stdout, waiting if the pipe is full (results of a million rows). */
export function writeLine(line: string): Promise<void> | void {
  if (readerGone) return;
  if (!process.stdout.write(line + '\n')) {
    // A reader that leaves while the pipe is full never drains it: stop waiting on 'error' too.
    return new Promise((resolve) => {
      const done = () => {
        process.stdout.off('drain', done);
        process.stdout.off('error', done);
        resolve();
      };
      process.stdout.once('drain', done);
      process.stdout.once('error', done);
    });
  }
}
