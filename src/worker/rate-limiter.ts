/**
 * A rate limit shared by every worker process on a queue: a sliding-window log in one Redis sorted
 * set. Each granted batch is an entry `count:token` scored with Redis's own clock (TIME), so
 * workers on machines with skewed clocks still agree. A batch is granted only if the messages
 * granted in the last window plus its own stay within the limit; otherwise the script answers how
 * long until enough of the oldest entries leave the window, and the caller sleeps that long.
 *
 * States of one acquire(): asking --granted--> done; asking --wait w--> sleeping --w elapsed-->
 * asking; sleeping --signal aborted--> rejected.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';

const ACQUIRE_LUA = `
--[[
  KEYS[1] sorted set of grants: member "count:token", score = grant time (ms, Redis clock)
  ARGV[1] window (ms)   ARGV[2] limit (messages per window)
  ARGV[3] count asked   ARGV[4] unique token
  Returns 0 when granted, else the ms to wait before asking again.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window, limit, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local used = 0
for i = 1, #entries, 2 do
  used = used + tonumber(string.match(entries[i], '^(%d+):'))
end
if used + n <= limit then
  redis.call('ZADD', KEYS[1], now, n .. ':' .. ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window * 2)
  return 0
end
local free = limit - used
for i = 1, #entries, 2 do
  free = free + tonumber(string.match(entries[i], '^(%d+):'))
  if free >= n then
    return math.max(1, tonumber(entries[i + 1]) + window - now + 1)
  end
end
return window
`;

interface LimiterCommands {
  vbAcquire(key: string, window: number, limit: number, n: number, token: string): Promise<number>;
}

export class RateLimiter {
  private readonly redis: Redis & LimiterCommands;

  constructor(
    redis: Redis,
    private readonly key: string,
    /** Messages per window; a batch larger than this can never pass, so batches are capped to it. */
    readonly limit: number,
    private readonly windowMs: number,
  ) {
    const r = redis as Redis & Partial<LimiterCommands>;
    if (typeof r.vbAcquire !== 'function') {
      redis.defineCommand('vbAcquire', { numberOfKeys: 1, lua: ACQUIRE_LUA });
    }
    this.redis = redis as Redis & LimiterCommands;
  }

  /** Resolves when `n` messages may be sent; rejects with the signal's reason if it aborts first. */
  async acquire(n: number, signal?: AbortSignal): Promise<void> {
    const count = Math.min(n, this.limit);
    const token = randomUUID();
    for (;;) {
      signal?.throwIfAborted();
      const wait = await this.redis.vbAcquire(this.key, this.windowMs, this.limit, count, token);
      if (wait === 0) return;
      await sleep(wait, undefined, { signal });
    }
  }
}
