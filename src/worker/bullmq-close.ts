/**
 * Waiting for BullMQ's `Worker.close()`, which can wait for ever.
 *
 * BullMQ's close disconnects its blocking connection (the one that waits on BZPOPMIN) and waits
 * for that connection's `end` event. If the connection dropped just before (a Redis restart, a
 * network blip, a failover), ioredis has it `reconnecting` with a retry timer pending;
 * `disconnect()` clears the timer, and since there is no socket left to close, nothing ever
 * emits `end`: close() never resolves and the process never exits (taskforcesh/bullmq#4656;
 * reproduced here with CLIENT KILL a few ms before SIGTERM, on one Redis and on a cluster).
 *
 * So we wait for BullMQ only as long as it has work to finish: once none of our batches is left,
 * it gets a grace period; after that its blocking connection is ended (endStuckClient) and
 * BullMQ's close goes on to stop its lock and stalled-check timers. Nothing is lost by it: every
 * job has settled.
 */
import type { Worker } from 'bullmq';
import type { Logger } from 'pino';
import {
  endStuckClient,
  isLive,
  settlesWithin,
  type OwnedRedis,
  type RedisClient,
} from '../redis.js';

/** How long BullMQ's close may take once none of our batches is in flight. */
export const BULLMQ_CLOSE_GRACE_MS = 2000;

/**
 * Waits for `closing` (the promise of `worker.close()`); `inFlight` is what of ours BullMQ's
 * close is still waiting for. Resolves when BullMQ has closed, or when it had to be helped and
 * still did not (then a warning says so).
 */
export async function awaitBullWorkerClosed(
  worker: Worker,
  closing: Promise<void>,
  inFlight: ReadonlySet<Promise<unknown>>,
  log: Logger,
  graceMs = BULLMQ_CLOSE_GRACE_MS,
): Promise<void> {
  for (;;) {
    await Promise.all(inFlight);
    if (await settlesWithin(closing, graceMs)) return;
    // A batch that started meanwhile (a job fetched as close began) is BullMQ's to wait for.
    if (inFlight.size === 0) break;
  }
  // An ioredis client, since we hand BullMQ one (BullMQ's type is its own client interface).
  let blocking: RedisClient | undefined;
  const ready = worker.backend.blockingClient?.then(
    (c) => (blocking = c as unknown as RedisClient),
  );
  if (ready) await settlesWithin(ready, graceMs);
  log.warn(
    { redisStatus: blocking?.status, graceMs },
    'BullMQ has not closed and has no job left to wait for: ending its blocking Redis connection (it dropped as the worker closed)',
  );
  if (blocking) await endStuckClient(blocking, graceMs);
  if (!(await settlesWithin(closing, graceMs))) {
    log.warn('BullMQ still has not closed; going on without it');
  }
}

/**
 * Redis down at the shutdown deadline: every command of ours and BullMQ's waits for it for ever
 * (workers never give up on a command). Our own connection is dropped, which fails them all, so
 * the close can finish; what could not be written is recovered later (stalled jobs, 208). A
 * connection you passed in is yours: then close waits for Redis.
 */
export function dropIfUnreachable(redis: OwnedRedis, log: Logger): void {
  if (!redis.owned || isLive(redis.client)) return;
  log.error(
    { redisStatus: redis.client.status },
    'Redis is unreachable at the shutdown deadline: dropping the connection; other workers recover what was in flight',
  );
  void endStuckClient(redis.client, 1000);
}
