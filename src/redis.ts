/**
 * Redis connections by role (STYLE.md): workers wait out a Redis restart
 * (`maxRetriesPerRequest: null`, BullMQ's requirement for workers); producers and inspectors fail
 * fast (`enableOfflineQueue: false`) so that a dead Redis is an error now, not a hang.
 */
import { Redis } from 'ioredis';
import { RedisUnavailableError } from './errors.js';

export type RedisRole = 'worker' | 'producer';

/** A connection: an ioredis client you own (never closed for you) or a redis:// URL. */
export type RedisConnection = Redis | string;

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** The URL without its password, for messages and logs. */
export function safeRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable Redis URL)';
  }
}

export interface OwnedRedis {
  client: Redis;
  /** True when we created it, so we must close it. */
  owned: boolean;
}

/** Opens (or adopts) a connection for a role and waits until it is ready. */
export async function openRedis(connection: RedisConnection, role: RedisRole): Promise<OwnedRedis> {
  if (typeof connection !== 'string') return { client: connection, owned: false };
  const client =
    role === 'worker'
      ? new Redis(connection, { maxRetriesPerRequest: null, lazyConnect: true })
      : new Redis(connection, {
          lazyConnect: true,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          // Reconnect a few times for a blip, then give up so that callers see the error.
          retryStrategy: (times) => (times > 5 ? null : Math.min(times * 200, 1000)),
          // After a refused connect, ioredis keeps a timer this long to destroy the socket: keep
          // it short so a failed CLI command or test exits at once.
          disconnectTimeout: 100,
        });
  // ioredis logs unhandled 'error' events; the failure surfaces through connect() instead.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw new RedisUnavailableError(
      `cannot connect to Redis at ${safeRedisUrl(connection)} (${(err as Error).message.replace(/\.$/, '')}): is it running? Set REDIS_URL to point elsewhere`,
      { cause: err },
    );
  }
  return { client, owned: true };
}

/** True when a Redis answers PING at `url` (one try, no retries). */
export async function redisAnswers(url: string): Promise<boolean> {
  const r = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    disconnectTimeout: 100,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/**
 * Removes every key of a queue: BullMQ's (jobs, lists, events) and the campaign store's. BullMQ's
 * `obliterate()` leaves the latter. Returns how many keys went.
 */
export async function deleteQueueKeys(
  url: string,
  queueName: string,
  prefix = 'bull',
): Promise<number> {
  const r = new Redis(url);
  let n = 0;
  try {
    const stream = r.scanStream({ match: `${prefix}:${queueName}:*`, count: 1000 });
    for await (const keys of stream as AsyncIterable<string[]>) {
      if (keys.length > 0) n += await r.unlink(...keys);
    }
  } finally {
    r.disconnect();
  }
  return n;
}
