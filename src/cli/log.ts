import { pino, type DestinationStream, type Logger } from 'pino';

/** Keys whose values are never logged, at any depth of a log object. */
const SECRET = /^(api_?key|key|password|authorization|secret|webhook_?secret|signer)$/i;

/**
 * A copy of a log object with every SECRET key's value censored, however deep (pino's redact
 * paths name fixed depths only); 8 levels at most, cycles left alone.
 */
export function scrubSecrets(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value !== 'object' || value === null || depth > 8 || seen.has(value)) return value;
  if (value instanceof Error) return value;
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => scrubSecrets(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET.test(k) ? '[redacted]' : scrubSecrets(v, depth + 1, seen);
  }
  return out;
}

/**
 * How pino-pretty shows the CLI's logs on a terminal: one line an event, its fields after the
 * message (a batch report is one line, not one line per field), times of day, no pid or host.
 */
export const PRETTY_OPTIONS = {
  colorize: true,
  singleLine: true,
  translateTime: 'SYS:HH:MM:ss.l',
  ignore: 'pid,hostname',
} as const;

/**
 * The CLI's logger, on stderr (stdout stays for command output): JSON lines, or pino-pretty's
 * coloured lines when stderr is a terminal (LOG_FORMAT=json|pretty overrides). The key is never
 * put in a log object; scrubSecrets, at any depth, is a second line of defence should one ever be.
 */
export function createLogger(
  level: string,
  format = process.env['LOG_FORMAT'],
  destination?: DestinationStream,
): Logger {
  const options = {
    level,
    base: { pid: process.pid },
    formatters: { log: (o: Record<string, unknown>) => scrubSecrets(o) as Record<string, unknown> },
  };
  const pretty = format === 'pretty' || (format !== 'json' && process.stderr.isTTY === true);
  if (pretty && !destination) {
    return pino(
      options,
      pino.transport({
        target: 'pino-pretty',
        options: { ...PRETTY_OPTIONS, destination: 2 },
      }),
    );
  }
  return pino(options, destination ?? pino.destination(2));
}
