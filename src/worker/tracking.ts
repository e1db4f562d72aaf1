/**
 * The delivery tracker of a send worker, from the worker's options: its own rate limiter for
 * `<status>` requests beside the send limiter it defers to (a 212 pause holds both).
 */
import type { GatewayClient } from '../gateway/client.js';
import { RateLimiter } from '../gateway/rate-limiter.js';
import type { QueueKeys } from '../keys.js';
import type { RedisClient } from '../redis.js';
import { Tracker, type TrackerHooks } from '../tracking/tracker.js';
import type { ResolvedWorkerOptions } from './options.js';

export function trackerFor(
  redis: RedisClient,
  keys: QueueKeys,
  options: ResolvedWorkerOptions,
  gateway: GatewayClient,
  sendLimiter: RateLimiter,
  hooks: TrackerHooks,
): Tracker {
  const g = gateway.options;
  return new Tracker(
    redis,
    keys.base,
    {
      trackAfterMs: options.trackAfterMs,
      trackMaxIntervalMs: options.trackMaxIntervalMs,
      trackForMs: options.trackForMs,
      readWindowMs: options.readWindowMs,
      batchSize: options.trackBatchSize,
      rate: options.trackRate,
      fallbackCodes: new Set(options.fallbackCodes),
      fallbackOnUnknown: options.fallbackOnUnknown,
    },
    gateway,
    new RateLimiter(redis, keys.trackPace, options.trackRate, 1000),
    sendLimiter,
    hooks,
    // A round may take the whole retry budget of one request; past that, its ids come back.
    g.timeoutMs * (g.retries + 1) + g.retryMaxDelayMs * g.retries + 5000,
  );
}
