import { pino, type Logger } from 'pino';

/**
 * The CLI's logger: JSON lines on stderr (stdout stays for command output). The key is never put
 * in a log object; the redact paths are a second line of defence should one ever be.
 */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: ['apiKey', '*.apiKey', 'gateway.apiKey', 'key', '*.key'],
        censor: '[redacted]',
      },
    },
    pino.destination(2),
  );
}
