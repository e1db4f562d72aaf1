/**
 * Pacing shared by every worker process on a queue, on one Redis key holding the theoretical
 * arrival time (TAT) of the next send — GCRA, "virtual scheduling":
 * - With a rate limit, a batch of n messages reserves the next slot and pushes the TAT on by
 *   n × window / limit. Sends are evenly spaced rather than bursty, so any window of `windowMs`
 *   holds at most `limit` messages at send time; network jitter on the way to the gateway can add
 *   at most one batch.
 * - When the gateway throttles us (212), pause() pushes the TAT past `now + ms`: every worker's
 *   next send waits, with or without a rate limit.
 * Redis's own clock (TIME) is the only clock, so workers on machines with skewed clocks agree.
 *
 * States of one acquire(): reserving --slot now--> done; reserving --slot in w ms--> sleeping
 * --w elapsed--> done; sleeping --signal aborted--> rejected (a reserved slot is simply wasted).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { defineCommands } from '../commands/index.js';
import { pauseKeyOf } from '../keys.js';
import type { RedisClient } from '../redis.js';

interface PaceCommands {
  vbPace(key: string, pauseKey: string, ...args: Array<string | number>): Promise<number>;
}

export class RateLimiter {
  private readonly redis: RedisClient & PaceCommands;

  /**
   * @param limit messages per window, 0 for none; batches larger than the limit are sent as
   *              `limit` (the worker caps its batch size to it).
   */
  constructor(
    redis: RedisClient,
    private readonly key: string,
    readonly limit: number,
    private readonly windowMs: number,
  ) {
    defineCommands(redis);
    this.redis = redis as RedisClient & PaceCommands;
  }

  /** Resolves when `n` messages may be sent; rejects with the signal's reason if it aborts first. */
  async acquire(n: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const count = this.limit > 0 ? Math.min(n, this.limit) : n;
    const wait = await this.redis.vbPace(
      this.key,
      this.pauseKey,
      'acquire',
      this.windowMs,
      this.limit,
      count,
    );
    if (wait > 0) await sleep(wait, undefined, { signal });
  }

  /** Holds every worker's next send for at least `ms`. */
  async pause(ms: number): Promise<void> {
    await this.redis.vbPace(this.key, this.pauseKey, 'pause', ms);
  }

  /** Resolves once no 212 pause holds the queue (status requests wait for it, reserving nothing). */
  async waitOutPause(signal?: AbortSignal): Promise<void> {
    const wait = await this.redis.vbPace(this.key, this.pauseKey, 'paused');
    if (wait > 0) await sleep(wait, undefined, { signal });
  }

  private get pauseKey(): string {
    return pauseKeyOf(this.key);
  }
}
