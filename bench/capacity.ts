/**
 * Bench rows 8a–8c (`npm run bench`, step `capacity`): what a campaign costs as it grows — Redis
 * memory per queued message and enqueue time at 100,000 and 1,000,000 messages, memory per
 * finished (sent and tracked to its final code) message — and sending on a three-master Redis
 * Cluster against the single Redis, same run. The README's Capacity section is written from these
 * rows.
 */
import type { Redis } from 'ioredis';
import { Inspector } from '../src/inspect/inspector.js';
import { Producer } from '../src/producer/producer.js';
import { deleteQueueKeys } from '../src/redis.js';
import { SandboxGateway } from '../src/sandbox/server.js';
import { LocalCluster } from '../test/local-cluster.js';
import {
  CLI,
  REDIS_URL,
  dropQueue,
  fmt,
  message,
  run,
  stop,
  until,
  usedMemory,
  type Row,
} from './lib.js';
import { benchDelivery, TRACK_FLAGS } from './tracking.js';

interface Ctx {
  redis: Redis;
  sizes: number[];
  /** Campaign sizes sent and tracked to the end for the finished-memory row. */
  finishedSizes: number[];
  /** Messages of the cluster vs single send. */
  n: number;
  key: string;
  queue: (name: string) => string;
  log: (s: string) => void;
}

/** A campaign's text and image given once (`--text`, `--image`), rows carrying id and phone. */
const DEFAULTS = {
  sender: 'SMSTest',
  type: 'image' as const,
  text: 'Знижка 20% на все — лише сьогодні! 🎉',
  image: 'https://example.com/img/promo.png',
};

async function enqueue(
  connection: string,
  queueName: string,
  n: number,
  shape: 'whole rows' | 'defaults' = 'whole rows',
): Promise<number> {
  const producer = new Producer({ connection, queueName });
  const started = performance.now();
  try {
    await producer.enqueue(
      'bench',
      (function* () {
        for (let id = 1; id <= n; id++) {
          const m = message(id);
          yield shape === 'defaults' ? { id, phone: m.phone } : m;
        }
      })(),
      shape === 'defaults' ? { defaults: DEFAULTS } : {},
    );
  } finally {
    await producer.close();
  }
  return performance.now() - started;
}

async function queued(ctx: Ctx): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [n, shape] of ctx.sizes.flatMap((n) =>
    (['whole rows', 'defaults'] as const).map((s) => [n, s] as const),
  )) {
    const qn = ctx.queue(`cap-${n}-${shape === 'defaults' ? 'd' : 'w'}`);
    const before = await usedMemory(ctx.redis);
    ctx.log(`bench: capacity: enqueueing ${fmt(n)} (${shape})…`);
    const ms = await enqueue(REDIS_URL, qn, n, shape);
    const per = ((await usedMemory(ctx.redis)) - before) / n;
    await dropQueue(qn);
    const how =
      shape === 'defaults'
        ? 'text and image given once for the campaign, rows of id and phone'
        : 'every row carrying its own text and image';
    rows.push({
      what: `8a. ${fmt(n)} queued messages, ${how} (library producer): Redis memory per message, and enqueue time`,
      ours: `${fmt(per)} B; ${fmt(ms / 1000, 1)} s`,
      baseline: `${fmt(n / (ms / 1000))} msg/s`,
      ratio: '—',
      target: '≤ 600 B',
      ok: per <= 600,
    });
  }
  return rows;
}

/** 8c: a campaign sent and tracked to its end; what stays in Redis per message. */
async function finished(ctx: Ctx): Promise<Row[]> {
  const rows: Row[] = [];
  for (const n of ctx.finishedSizes) {
    const qn = ctx.queue(`fin-${n}`);
    const sandbox = new SandboxGateway({
      apiKey: ctx.key,
      keepMessages: false,
      delivery: benchDelivery(1),
    });
    await sandbox.start();
    const inspector = new Inspector({ connection: REDIS_URL, queueName: qn });
    const before = await usedMemory(ctx.redis);
    ctx.log(`bench: capacity: sending and tracking ${fmt(n)}…`);
    await enqueue(REDIS_URL, qn, n, 'defaults');
    const child = run(CLI, ['worker', ...TRACK_FLAGS], {
      VIBER_QUEUE: qn,
      ALPHASMS_URL: sandbox.url,
      ALPHASMS_API_KEY: ctx.key,
    });
    try {
      await until(
        async () => {
          const c = await inspector.counts('bench');
          return c.completed >= n && c.delivery.tracking === 0;
        },
        `${qn} sent and tracked`,
        1_800_000,
        500,
      );
    } finally {
      await stop(child);
      await inspector.close();
      await sandbox.close();
    }
    const per = ((await usedMemory(ctx.redis)) - before) / n;
    await dropQueue(qn);
    rows.push({
      what: `8c. ${fmt(n)} finished messages (sent, tracked to their final code; text and image given once): Redis memory per message`,
      ours: `${fmt(per)} B`,
      baseline: '—',
      ratio: '—',
      target: '≤ 1,024 B',
      ok: per <= 1024,
    });
  }
  return rows;
}

async function sendOn(
  connection: string,
  env: Record<string, string>,
  qn: string,
  ctx: Ctx,
): Promise<number> {
  await enqueue(connection, qn, ctx.n);
  const sandbox = new SandboxGateway({ apiKey: ctx.key, keepMessages: false });
  await sandbox.start();
  const inspector = new Inspector({ connection, queueName: qn });
  const started = performance.now();
  const child = run(CLI, ['worker', '--no-track'], {
    ...env,
    VIBER_QUEUE: qn,
    ALPHASMS_URL: sandbox.url,
    ALPHASMS_API_KEY: ctx.key,
  });
  try {
    await until(async () => (await inspector.counts('bench')).completed >= ctx.n, qn, 600_000, 100);
    return performance.now() - started;
  } finally {
    await stop(child);
    await inspector.close();
    await sandbox.close();
  }
}

async function cluster(ctx: Ctx): Promise<Row> {
  const c = new LocalCluster();
  await c.start(3);
  try {
    const nodes = c.ports.map((p) => `127.0.0.1:${p}`).join(',');
    const cq = ctx.queue('cluster');
    const onCluster = await sendOn(c.url, { REDIS_CLUSTER_NODES: nodes }, cq, ctx);
    await deleteQueueKeys(c.url, cq);
    const sq = ctx.queue('single');
    const onSingle = await sendOn(REDIS_URL, { REDIS_URL }, sq, ctx);
    await dropQueue(sq);
    const ratio = onSingle / onCluster;
    return {
      what: `8b. send ${fmt(ctx.n)} (one worker process) on a local 3-master Redis Cluster vs the single Redis`,
      ours: `${fmt(ctx.n / (onCluster / 1000))} msg/s`,
      baseline: `${fmt(ctx.n / (onSingle / 1000))} msg/s`,
      ratio: `${ratio.toFixed(2)}×`,
      target: '—',
      ok: null,
    };
  } finally {
    await c.stop();
  }
}

export async function benchCapacity(ctx: Ctx): Promise<Row[]> {
  return [...(await queued(ctx)), ...(await finished(ctx)), await cluster(ctx)];
}
