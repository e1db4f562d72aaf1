/**
 * Imported first by main.ts, so that it runs before the other modules load (~0.25 s): a worker's
 * SIGTERM in that window is kept for the worker command (a supervisor stopping a fleet it has
 * just restarted) instead of killing the process by signal. Other commands keep Node's default:
 * Ctrl-C ends an enqueue at once.
 */
const early: string[] = [];
const keep = (sig: string) => early.push(sig);

if (process.argv[2] === 'worker') {
  process.on('SIGTERM', keep);
  process.on('SIGINT', keep);
}

/** The signals that arrived before the caller took over; stops keeping them. */
export function takeEarlySignals(): string[] {
  process.off('SIGTERM', keep);
  process.off('SIGINT', keep);
  return early.splice(0);
}
