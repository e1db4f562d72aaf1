/** Shared by the integration tests: unique queue names, cleanup, polling, sample messages. */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { clientFor, deleteQueueKeys, queueKeyPages, type RedisClient } from '../src/redis.js';
import type { ViberMessage } from '../src/message.js';
import type { Queue } from 'bullmq';
import type { SendJobData } from '../src/job.js';
import { pino } from 'pino';
import { CampaignStore } from '../src/campaign/store.js';
import { Dispatcher, type DispatchReport } from '../src/dispatch/dispatcher.js';

export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/**
 * The Redis the integration tests run on: REDIS_URL, or the Redis Cluster that
 * `npm run test:cluster` starts (jest.cluster.config.js sets VB_TEST_REDIS to its
 * redis-cluster:// string). Tests that talk to Redis directly use testRedis().
 */
export const TEST_REDIS = process.env['VB_TEST_REDIS'] ?? REDIS_URL;

/** A connected client for TEST_REDIS (a Cluster client on a cluster); disconnect() it. */
export async function testRedis(): Promise<RedisClient> {
  const r = clientFor(TEST_REDIS, 'worker');
  await r.connect();
  return r;
}

/** What a CLI process needs in its environment to reach TEST_REDIS. */
export function redisEnv(url = TEST_REDIS): Record<string, string> {
  return url.startsWith('redis-cluster://')
    ? {
        REDIS_CLUSTER_NODES: url.slice('redis-cluster://'.length),
        REDIS_URL: 'redis://127.0.0.1:1',
      }
    : { REDIS_URL: url };
}

/** A queue name no other test (or test run) uses. */
export function uniqueQueue(tag = 't'): string {
  return `vbtest-${tag}-${randomBytes(4).toString('hex')}`;
}

/** Every key of a queue on TEST_REDIS (every master of a cluster scanned), sorted. */
export async function queueKeys(queueName: string): Promise<string[]> {
  const r = await testRedis();
  try {
    const out: string[] = [];
    for await (const [, keys] of queueKeyPages(r, TEST_REDIS, queueName)) out.push(...keys);
    return out.sort();
  } finally {
    r.disconnect();
  }
}

/** Removes every key of a queue (BullMQ's and ours). */
export async function dropQueue(
  queueName: string,
  prefix?: string,
  url = TEST_REDIS,
): Promise<void> {
  await deleteQueueKeys(url, queueName, prefix);
}

/** Polls until `check` returns a truthy value, or fails after `timeoutMs` with `what`. */
export async function waitFor<T>(
  check: () => Promise<T> | T,
  what: string,
  timeoutMs = 30_000,
  everyMs = 50,
): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** `promise`, or a failure naming `what` after `ms`: no wait in a test is unbounded. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** n valid image messages with ids from `first`. */
export function sampleMessages(
  n: number,
  first = 1,
  over: Partial<ViberMessage> = {},
): ViberMessage[] {
  return Array.from({ length: n }, (_, i) => ({
    id: first + i,
    phone: `+38097${String(1_000_000 + i).padStart(7, '0')}`,
    sender: 'SMSTest',
    type: 'image' as const,
    text: `Message ${first + i} — привіт & <b>"hi"</b> 👋`,
    image: 'https://image.url/image.png',
    ...over,
  }));
}

/** As waitFor, but `check` must hold on `times` polls in a row (a state that has settled). */
export async function waitForSettled(
  check: () => Promise<boolean> | boolean,
  what: string,
  times = 4,
  timeoutMs = 30_000,
): Promise<void> {
  let streak = 0;
  await waitFor(
    async () => {
      streak = (await check()) ? streak + 1 : 0;
      return streak >= times;
    },
    what,
    timeoutMs,
    100,
  );
}

/**
 * A message as workers send it: its own fields over the campaign's shared set it names
 * (src/campaign/shared.ts), read straight from Redis — from its job, or, before the dispatcher
 * released it, from the queued hash.
 */
export async function wholeMessage(
  queue: Queue<SendJobData>,
  id: number,
): Promise<Record<string, unknown> | undefined> {
  const r = await testRedis();
  try {
    const raw =
      (await r.hget(queue.toKey(`m${id}`), 'data')) ??
      (await r.hget(queue.toKey('vb:msg'), String(id)));
    if (!raw) return undefined;
    const data = JSON.parse(raw) as SendJobData;
    const set = data.shared ? await r.hget(queue.toKey('vb:shared'), data.shared) : null;
    return { ...(set ? (JSON.parse(set) as object) : {}), ...data.message };
  } finally {
    r.disconnect();
  }
}

/**
 * Runs one dispatcher call on a queue (no worker needed): queued messages become BullMQ jobs in
 * the wait list, as a worker's dispatcher would release them.
 */
export async function releaseQueued(queue: Queue): Promise<DispatchReport> {
  const client = await testRedis();
  try {
    const base = queue.toKey('');
    const d = new Dispatcher(
      client,
      new CampaignStore(client, base),
      RELEASE,
      pino({ level: 'silent' }),
    );
    return await d.dispatchOnce();
  } finally {
    client.disconnect();
  }
}

const RELEASE = { ahead: 1000, intervalMs: 100, chunk: 10, sweep: 1000 };
