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
import type { RedisClient } from '../redis.js';

const PACE_LUA = `
--[[
  KEYS[1] the TAT key (ms, Redis clock), KEYS[2] the pause key (until when a 212 holds us, ms)
  ARGV[1] 'acquire', 'pause' or 'paused'
  acquire: ARGV[2] window (ms), ARGV[3] limit (0: none), ARGV[4] messages in the batch
           returns the ms to wait before sending (0: now); with a limit the slot is reserved
  pause:   ARGV[2] ms; returns 0
  paused:  returns the ms left of a 212 pause (0: none); reserves nothing
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if ARGV[1] == 'paused' then
  local untilMs = tonumber(redis.call('GET', KEYS[2]) or '0')
  return math.max(0, math.ceil(untilMs - now))
end
if ARGV[1] == 'pause' then
  local untilMs = math.max(tat, now + tonumber(ARGV[2]))
  redis.call('SET', KEYS[1], string.format('%.3f', untilMs), 'PX', math.ceil(untilMs - now) + 1000)
  local pauseUntil = now + tonumber(ARGV[2])
  redis.call('SET', KEYS[2], string.format('%.3f', pauseUntil), 'PX', math.ceil(pauseUntil - now) + 1000)
  return 0
end
local window, limit, n = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if limit > 0 then
  local nextTat = tat + n * window / limit
  redis.call('SET', KEYS[1], string.format('%.3f', nextTat), 'PX', math.ceil(nextTat - now) + window)
end
return math.ceil(tat - now)
`;

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
    const r = redis as RedisClient & Partial<PaceCommands>;
    if (typeof r.vbPace !== 'function')
      redis.defineCommand('vbPace', { numberOfKeys: 2, lua: PACE_LUA });
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
    return `${this.key}:pause`;
  }
}
