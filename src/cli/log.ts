import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * The CLI's logger, on stderr (stdout stays for command output): JSON lines, or pino-pretty's
 * coloured lines when stderr is a terminal (LOG_FORMAT=json|pretty overrides). The key is never
 * put in a log object; the redact paths are a second line of defence should one ever be.
 */
export function createLogger(
  level: string,
  format = process.env['LOG_FORMAT'],
  destination?: DestinationStream,
): Logger {
  const options = {
    level,
    base: { pid: process.pid },
    redact: {
      paths: ['apiKey', '*.apiKey', 'gateway.apiKey', 'key', '*.key'],
      censor: '[redacted]',
    },
  };
  const pretty = format === 'pretty' || (format !== 'json' && process.stderr.isTTY === true);
  if (pretty && !destination) {
    return pino(
      options,
      pino.transport({
        target: 'pino-pretty',
        options: {
          destination: 2,
          colorize: true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname',
        },
      }),
    );
  }
  return pino(options, destination ?? pino.destination(2));
}
