/**
 * Redis connections by role (STYLE.md): workers wait out a Redis restart
 * (`maxRetriesPerRequest: null`, BullMQ's requirement for workers); producers and inspectors fail
 * fast (`enableOfflineQueue: false`) so that a dead Redis is an error now, not a hang.
 *
 * Three topologies, named by the connection string:
 *   redis://[:password@]host:port[/db] (or rediss://)     one Redis
 *   redis-cluster://[:password@]host:port,host:port,…      Redis Cluster, from seed nodes
 *   redis-sentinel://[:password@]host:port,…/name          the primary that Sentinel names `name`
 * A queue's keys must share one hash slot in a cluster: see queuePrefix().
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { InvalidOptionError, RedisUnavailableError } from './errors.js';

export type RedisRole = 'worker' | 'producer';

/** Either kind of ioredis client: every command we send works on both. */
export type RedisClient = Redis | Cluster;

/** A connection: an ioredis client you own (never closed for you) or a connection string. */
export type RedisConnection = RedisClient | string;

const CLUSTER = 'redis-cluster://';
const SENTINEL = 'redis-sentinel://';

/** Is this connection a Redis Cluster (string or client)? */
export function isClusterConnection(c: RedisConnection): boolean {
  return typeof c === 'string' ? c.startsWith(CLUSTER) : (c as Cluster).isCluster === true;
}

/**
 * The BullMQ prefix of a queue. In a cluster every key of a queue must hash to one slot (BullMQ's
 * Lua scripts and ours touch many at once), so the prefix carries a hash tag: by default
 * `bull:{<queue>}`, which also spreads different queues over the masters. A prefix given for a
 * cluster must have its own `{tag}`.
 */
export function queuePrefix(
  connection: RedisConnection,
  queueName: string,
  prefix: string | undefined,
): string {
  if (prefix !== undefined && !/^[A-Za-z0-9_.:{}-]{1,64}$/.test(prefix)) {
    throw new InvalidOptionError(
      `prefix must be 1..64 characters of letters, digits, '_', '.', ':', '-' and a {hash tag} (got ${JSON.stringify(prefix)})`,
    );
  }
  if (!isClusterConnection(connection)) return prefix ?? 'bull';
  if (prefix === undefined) return `bull:{${queueName}}`;
  if (!/\{[^{}]+\}/.test(prefix)) {
    throw new InvalidOptionError(
      `prefix ${prefix} has no {hash tag}: in a Redis Cluster a queue's keys must share one slot (e.g. prefix "{${queueName}}")`,
    );
  }
  return prefix;
}

/** host:port,host:port → nodes; the error names the variable the string came from. */
function parseNodes(list: string, what: string): Array<{ host: string; port: number }> {
  return list.split(',').map((hp) => {
    const m = /^\s*\[?([^\]\s]+?)\]?:(\d{1,5})\s*$/.exec(hp);
    if (!m) throw new InvalidOptionError(`${what}: ${JSON.stringify(hp)} is not host:port`);
    return { host: m[1] as string, port: Number(m[2]) };
  });
}

/** `scheme://[user[:password]@]rest` → its parts (the password never appears in errors). */
function splitAuth(
  s: string,
  scheme: string,
): { rest: string; username?: string; password?: string } {
  const body = s.slice(scheme.length);
  const at = body.lastIndexOf('@');
  if (at < 0) return { rest: body };
  const auth = body.slice(0, at);
  const colon = auth.indexOf(':');
  const username = colon < 0 ? auth : auth.slice(0, colon);
  const password = colon < 0 ? undefined : decodeURIComponent(auth.slice(colon + 1));
  return {
    rest: body.slice(at + 1),
    ...(username ? { username: decodeURIComponent(username) } : {}),
    ...(password !== undefined ? { password } : {}),
  };
}

/** Options per role (see the top of this file). */
function roleOptions(role: RedisRole): RedisOptions {
  return role === 'worker'
    ? { maxRetriesPerRequest: null, lazyConnect: true }
    : {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        // Reconnect a few times for a blip, then give up so that callers see the error.
        retryStrategy: (times) => (times > 5 ? null : Math.min(times * 200, 1000)),
        // After a refused connect, ioredis keeps a timer this long to destroy the socket: keep
        // it short so a failed CLI command or test exits at once.
        disconnectTimeout: 100,
      };
}

/** A client for a connection string, not connected yet. */
export function clientFor(connection: string, role: RedisRole): RedisClient {
  const opts = roleOptions(role);
  if (connection.startsWith(CLUSTER)) {
    const { rest, username, password } = splitAuth(connection, CLUSTER);
    const auth = { ...(username ? { username } : {}), ...(password ? { password } : {}) };
    return new Cluster(parseNodes(rest, 'REDIS_CLUSTER_NODES'), {
      lazyConnect: true,
      enableOfflineQueue: role === 'worker',
      // Slots move and masters fail over: keep trying (workers) or give up soon (commands).
      clusterRetryStrategy: (times) =>
        role === 'worker' ? Math.min(times * 200, 2000) : times > 5 ? null : times * 200,
      redisOptions: {
        ...auth,
        maxRetriesPerRequest: opts.maxRetriesPerRequest ?? null,
        ...(role === 'producer' ? { disconnectTimeout: 100 } : {}),
      },
    });
  }
  if (connection.startsWith(SENTINEL)) {
    const { rest, username, password } = splitAuth(connection, SENTINEL);
    const slash = rest.lastIndexOf('/');
    const name = slash < 0 ? '' : rest.slice(slash + 1);
    if (!name) {
      throw new InvalidOptionError(
        'REDIS_SENTINEL_NAME is not set: Sentinel needs the name of the primary it watches',
      );
    }
    return new Redis({
      ...opts,
      sentinels: parseNodes(rest.slice(0, slash), 'REDIS_SENTINELS'),
      name,
      ...(username ? { username } : {}),
      ...(password ? { password, sentinelPassword: password } : {}),
      // A failover: reconnect to the new primary, and never write to a replica meanwhile.
      ...(role === 'worker'
        ? { retryStrategy: (times: number) => Math.min(times * 200, 2000) }
        : {}),
    });
  }
  return new Redis(connection, opts);
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** The connection string without its password, for messages and logs. */
export function safeRedisUrl(url: string): string {
  for (const scheme of [CLUSTER, SENTINEL]) {
    if (url.startsWith(scheme)) {
      const { rest } = splitAuth(url, scheme);
      return rest === url.slice(scheme.length) ? url : `${scheme}***@${rest}`;
    }
  }
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable Redis URL)';
  }
}

export interface OwnedRedis {
  client: RedisClient;
  /** True when we created it, so we must close it. */
  owned: boolean;
}

/** Opens (or adopts) a connection for a role and waits until it is ready. */
export async function openRedis(connection: RedisConnection, role: RedisRole): Promise<OwnedRedis> {
  if (typeof connection !== 'string') return { client: connection, owned: false };
  const client = clientFor(connection, role);
  // ioredis logs unhandled 'error' events; the failure surfaces through connect() instead.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw new RedisUnavailableError(
      `cannot connect to Redis at ${safeRedisUrl(connection)} (${(err as Error).message.replace(/\.$/, '')}): is it running? Set REDIS_URL (or REDIS_CLUSTER_NODES, REDIS_SENTINELS) to point elsewhere`,
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
 * The keys of a queue (BullMQ's and the campaign store's), a SCAN page at a time, each with the
 * node that holds it: a cluster has no cluster-wide SCAN, so each master is scanned (a queue
 * lives on one).
 */
export async function* queueKeyPages(
  client: RedisClient,
  connection: string,
  queueName: string,
  prefix?: string,
): AsyncGenerator<[node: Redis, keys: string[]]> {
  const match = `${queuePrefix(connection, queueName, prefix)}:${queueName}:*`;
  for (const node of client instanceof Cluster ? client.nodes('master') : [client]) {
    for await (const keys of node.scanStream({ match, count: 1000 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) yield [node, keys];
    }
  }
}

/**
 * Removes every key of a queue: BullMQ's (jobs, lists, events) and the campaign store's. BullMQ's
 * `obliterate()` leaves the latter. Returns how many keys went.
 */
export async function deleteQueueKeys(
  url: string,
  queueName: string,
  prefix?: string,
): Promise<number> {
  const r = clientFor(url, 'worker');
  r.on('error', () => {});
  let n = 0;
  try {
    await r.connect();
    // One slot per queue in a cluster, so one UNLINK may take a page.
    for await (const [node, keys] of queueKeyPages(r, url, queueName, prefix)) {
      n += await node.unlink(...keys);
    }
  } finally {
    r.disconnect();
  }
  return n;
}

/** True if `promise` settles within `ms` (its timer is cleared as soon as it does). */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Ends a client that will not end by itself (src/worker/bullmq-close.ts tells how BullMQ meets
 * one). ioredis runs its close path (queued commands rejected — BullMQ's BZPOPMIN among them —
 * then `end`) only when a connection closes, and a client disconnected while it waited to
 * reconnect has none to close. So: disconnect (no more retries: the next close is final), then
 * connect — which fails (Redis down) or succeeds — and disconnect again: either way it ends.
 * (Connecting first would not do: a refused connect while retries are still on just schedules
 * the next retry, and the disconnect after it strands the client again.)
 */
export async function endStuckClient(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'end') return;
  client.disconnect();
  if ((client.status as string) === 'end') return;
  await settlesWithin(client.connect(), timeoutMs);
  if ((client.status as string) !== 'end') client.disconnect();
}

/**
 * Closes a client we own: QUIT when it is connected (what was sent is answered first); otherwise
 * it is ended, since a QUIT queued for a Redis that is down waits as long as Redis does.
 */
export async function closeRedis(client: RedisClient, timeoutMs = 1000): Promise<void> {
  if (client.status === 'end') return;
  if (isLive(client)) await client.quit();
  else await endStuckClient(client, timeoutMs);
}

/** Connected and serving commands (a Cluster may stay `connect` while it serves: BullMQ agrees). */
export function isLive(client: RedisClient): boolean {
  return client.status === 'ready' || (client instanceof Cluster && client.status === 'connect');
}

/**
 * Warns when Redis may evict keys: an evicted job or campaign key is a lost message (BullMQ's
 * production advice: `maxmemory-policy noeviction`). Read from INFO, which managed Redis
 * services allow even where CONFIG is disabled.
 */
export async function warnIfEvicting(
  client: RedisClient,
  log: { warn(o: object, msg: string): void; debug(o: object, msg: string): void },
): Promise<void> {
  try {
    const info = await client.info('memory');
    const policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
    if (policy && policy !== 'noeviction') {
      log.warn(
        { maxmemoryPolicy: policy },
        `Redis maxmemory-policy is ${policy}: set it to noeviction, or Redis may evict queued messages`,
      );
    }
  } catch (err) {
    log.debug({ err: (err as Error).message }, 'could not read Redis maxmemory-policy');
  }
}
