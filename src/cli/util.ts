import { InvalidArgumentError } from 'commander';
import { InvalidOptionError } from '../errors.js';

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

// C0 and C1 controls, DEL, the line and paragraph separators and the bidirectional overrides
// (which reorder what a terminal shows: "Trojan Source"). Matching them is the point:
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text as the CLI prints it for people: every control character escaped (`\n`, `\x1b`,
 * `\u202e`), so no ANSI escape, newline or reordering from a file, Redis or the gateway comes out
 * raw — to a terminal or a pipe alike. JSON output needs none of this: JSON escapes its own.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (ch) => {
    const named = NAMED[ch];
    if (named) return named;
    const code = ch.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
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

/**
 * A moment given as ISO 8601 (`2026-12-01T10:00:00+02:00`) or as a duration from now (`90s`,
 * `30m`, `12h`, `2d`); the error names the flag.
 */
export function parseWhen(text: string, flag: string, now = Date.now()): Date {
  if (/^\s*\d+\s*(ms|s|m|h|d)\s*$/.test(text)) return new Date(now + parseDuration(text, flag));
  if (
    /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(text.trim())
  ) {
    const d = new Date(text.trim());
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new InvalidOptionError(
    `${flag} must be an ISO 8601 time (2026-12-01T10:00:00+02:00) or a duration like 90s, 30m, 12h, 2d (got ${text})`,
  );
}

/** `30d`, `12h`, `90m`, `45s` or plain ms → ms; names the flag when it cannot read it. */
export function parseDuration(text: string, what: string): number {
  const m = /^\s*(\d+)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) {
    throw new InvalidOptionError(
      `${what} must be a duration like 30d, 12h, 90m or 45s (got ${text})`,
    );
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 'ms'] ?? 1;
  return Number(m[1]) * unit;
}
