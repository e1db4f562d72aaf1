/** Shared by the integration tests: unique queue names, cleanup, polling, sample messages. */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { clientFor, deleteQueueKeys, queueKeyPages, type RedisClient } from '../src/redis.js';
import type { ViberMessage } from '../src/message.js';
import { Queue as BullQueue, type Queue } from 'bullmq';
import type {
  FinishedRecord,
  PackageJobData,
  PackageJobResult,
  PackageMessageResult,
  SendJobData,
  SendJobResult,
} from '../src/job.js';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { CampaignStore } from '../src/campaign/store.js';
import { readFinished } from '../src/campaign/records.js';
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
 * (src/campaign/shared.ts), read straight from Redis — from the queued hash, or once it ended,
 * from its finished record.
 */
export async function wholeMessage(
  queue: Queue<SendJobData>,
  id: number,
): Promise<Record<string, unknown> | undefined> {
  const r = await testRedis();
  try {
    const raw =
      (await r.hget(queue.toKey('vb:msg'), String(id))) ??
      (await r.hget(queue.toKey('vb:done'), String(id)));
    if (!raw) return undefined;
    const data = JSON.parse(raw) as SendJobData;
    const set = data.shared ? await r.hget(queue.toKey('vb:shared'), data.shared) : null;
    return { ...(set ? (JSON.parse(set) as object) : {}), ...data.message };
  } finally {
    r.disconnect();
  }
}

/**
 * Runs one dispatcher call on a queue (no worker needed): queued messages go into packages whose
 * BullMQ jobs wait, as a worker's dispatcher would make them.
 */
export async function releaseQueued(
  queue: Queue,
): Promise<Pick<DispatchReport, 'released' | 'swept'>> {
  const client = await testRedis();
  const q = new BullQueue<PackageJobData>(queue.name, {
    connection: client,
    prefix: queue.opts.prefix,
  });
  try {
    const base = queue.toKey('');
    const d = new Dispatcher(
      client,
      new CampaignStore(client, base),
      q,
      RELEASE,
      pino({ level: 'silent' }),
    );
    const { released, swept } = await d.dispatchOnce();
    return { released, swept };
  } finally {
    await q.close();
    client.disconnect();
  }
}

const RELEASE = {
  ahead: 1000,
  intervalMs: 100,
  packageSize: 50,
  sweep: 1000,
  lingerMs: 0,
  reapAfterMs: 30_000,
};

/** Queues that live on another Redis than TEST_REDIS (chaos runs' private servers), by name. */
const elsewhere = new Map<string, RedisClient>();

/** messages() and messageCounts() of this queue read through `redis` (which stays yours). */
export function readQueueVia(queueName: string, redis: RedisClient): void {
  elsewhere.set(queueName, redis);
}

async function redisOf(queue: Queue): Promise<RedisClient> {
  return elsewhere.get(queue.name) ?? (await testRedis());
}

function release(r: RedisClient): void {
  if (![...elsewhere.values()].includes(r)) r.disconnect();
}

/** A message as the old one-job-per-message tests looked at it: its record, in a job's shape. */
export interface MessageView {
  id: string;
  data: FinishedRecord;
  returnvalue: SendJobResult;
  failedReason: string | undefined;
  attemptsMade: number;
  finishedOn: number | undefined;
}

type ViewState =
  'completed' | 'failed' | 'wait' | 'active' | 'delayed' | 'paused' | 'cancelled' | 'expired';
const LETTER: Record<ViewState, string> = {
  completed: 'c',
  failed: 'f',
  wait: 'w',
  active: 'a',
  delayed: 'd',
  paused: 'p',
  cancelled: 'x',
  expired: 'e',
};

/**
 * Every message of the queue in one of these states, from our store (states, records): what
 * results read. `failed` is failed for good, not cancelled or expired.
 */
export async function messages(queue: Queue, states: ViewState[]): Promise<MessageView[]> {
  const r = await redisOf(queue);
  try {
    const letters = new Set(states.map((x) => LETTER[x]));
    const out: MessageView[] = [];
    for (const c of await r.zrange(queue.toKey('vb:campaigns'), 0, -1)) {
      const all = await r.hgetall(queue.toKey(`vb:c:${c}:state`));
      const ids = Object.keys(all).filter((id) => letters.has((all[id] ?? '').charAt(0)));
      if (ids.length === 0) continue;
      const done = await r.hmget(queue.toKey('vb:done'), ...ids);
      const queued = await r.hmget(queue.toKey('vb:msg'), ...ids);
      ids.forEach((id, i) => {
        // A finished record as every reader of ours sees it (readFinished puts back the fields
        // Redis does not keep); until it ends, the message's queued record.
        const rec = (readFinished(done[i]) ??
          (queued[i]
            ? JSON.parse(queued[i])
            : { campaign: c, message: { id: Number(id) } })) as FinishedRecord;
        out.push({
          id: `m${id}`,
          data: rec,
          returnvalue: rec.result as SendJobResult,
          failedReason: rec.failed?.reason,
          attemptsMade: rec.result?.attempts ?? rec.failed?.attempts ?? 0,
          finishedOn: rec.result ? Date.parse(rec.result.sentAt) : undefined,
        });
      });
    }
    return out.sort((a, b) => a.data.message.id - b.data.message.id);
  } finally {
    release(r);
  }
}

/** One message as messages() shows it, by id. */
export async function messageView(queue: Queue, id: number): Promise<MessageView | undefined> {
  const all = await messages(queue, Object.keys(LETTER) as ViewState[]);
  return all.find((m) => m.data.message.id === id);
}

/** How many messages of the queue are in each of these states (summed over its campaigns). */
export async function messageCounts(
  queue: Queue,
  ...states: ViewState[]
): Promise<Record<string, number>> {
  const r = await redisOf(queue);
  try {
    const out: Record<string, number> = Object.fromEntries(states.map((x) => [x, 0]));
    const field: Record<ViewState, string> = {
      completed: 'completed',
      failed: 'failed',
      wait: 'waiting',
      active: 'active',
      delayed: 'delayed',
      paused: 'paused',
      cancelled: 'cancelled',
      expired: 'expired',
    };
    for (const c of await r.zrange(queue.toKey('vb:campaigns'), 0, -1)) {
      const counts = await r.hgetall(queue.toKey(`vb:c:${c}:counts`));
      for (const x of states) out[x] = (out[x] ?? 0) + Number(counts[field[x]] ?? 0);
    }
    return out;
  } finally {
    release(r);
  }
}

/** Messages the queue's package jobs ended with this status, by their return values. */
export async function endedByJobs(
  queue: Queue,
  status: PackageMessageResult['status'],
): Promise<number> {
  let n = 0;
  for (const job of await queue.getJobs(['completed', 'failed'])) {
    const ended = (job.returnvalue ?? job.progress) as Partial<PackageJobResult> | undefined;
    n += (ended?.messages ?? []).filter((m) => m.status === status).length;
  }
  return n;
}

/** A pino logger at `level` whose JSON lines land, parsed, in `lines` (tests read what it logged). */
export function jsonLogger<T = Record<string, unknown>>(
  level: string,
): { logger: Logger; lines: T[] } {
  const lines: T[] = [];
  const logger = pino(
    { level },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as T);
        done();
      },
    }),
  );
  return { logger, lines };
}
