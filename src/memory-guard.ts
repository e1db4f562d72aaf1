/**
 * Redis out of memory (`maxmemory` reached with `noeviction`) refuses every write with an `OOM`
 * error. Left alone, each loop of a worker — BullMQ's fetch, the dispatcher, delivery tracking —
 * retries at once and logs every refusal (272,000 lines in 40 s). One guard per worker instead:
 *
 *   free --an OOM error seen anywhere--> full (logged once; the loops pause: `full` is true)
 *   full --a probe write every probeMs fails--> full (logged again every logEveryMs)
 *   full --a probe write succeeds--> free (logged, with how long it lasted; the loops go on)
 *
 * Nothing is dropped meanwhile: a write that failed is retried by its own loop once memory is
 * back (a package whose settle failed comes back as stalled, one made without its job is given
 * back by the reaper), and messages stay where they were.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

/** Redis's refusal of a write for want of memory (a reply that opens with `OOM `). */
function isOutOfMemory(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('OOM ');
}

export interface MemoryGuardOptions {
  /** How often a full Redis is probed with one small write, ms. */
  probeMs: number;
  /** How often it is logged again while it stays full, ms. */
  logEveryMs: number;
}

export class MemoryGuard extends EventEmitter<{ full: []; free: [] }> {
  private since: number | undefined;
  private lastLog = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    /** One small write that Redis refuses while it is out of memory. */
    private readonly probe: () => Promise<unknown>,
    private readonly log: Logger,
    private readonly options: MemoryGuardOptions = { probeMs: 1000, logEveryMs: 60_000 },
  ) {
    super();
  }

  /** True while Redis refuses writes: loops wait instead of calling it. */
  get full(): boolean {
    return this.since !== undefined;
  }

  /**
   * Whether `err` is Redis out of memory; the first such error puts the guard in `full` (the
   * caller then need not log it: the guard did).
   */
  saw(err: unknown): boolean {
    if (!isOutOfMemory(err)) return false;
    if (this.since === undefined && !this.closed) {
      this.since = this.lastLog = Date.now();
      this.log.error(
        { err: (err as Error).message.slice(0, 80) },
        'Redis is out of memory (maxmemory, noeviction): this worker waits and retries, every message stays queued; free memory or raise maxmemory',
      );
      this.emit('full');
      this.schedule();
    }
    return true;
  }

  private schedule(): void {
    this.timer = setTimeout(() => void this.check(), this.options.probeMs);
  }

  private async check(): Promise<void> {
    if (this.closed || this.since === undefined) return;
    try {
      await this.probe();
    } catch {
      // Still full (or Redis away: its own errors say so); keep probing.
      const now = Date.now();
      if (now - this.lastLog >= this.options.logEveryMs) {
        this.lastLog = now;
        this.log.warn({ forMs: now - this.since }, 'Redis is still out of memory');
      }
      if (!this.closed) this.schedule();
      return;
    }
    const forMs = Date.now() - this.since;
    this.since = undefined;
    this.log.info({ forMs }, 'Redis accepts writes again: the worker goes on');
    this.emit('free');
  }

  /** Stops probing. Idempotent. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}
