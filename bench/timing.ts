/**
 * Benchmark rows of campaign timing and priority (issue 11): how soon a `high` campaign goes out
 * behind a million waiting messages, the share each of two and three equal campaigns gets, and
 * send throughput with the timing settings in use vs a plain campaign (same run, same sandbox).
 */
import type { Redis } from 'ioredis';
import { Producer } from '../src/producer/producer.js';
import type { TimingSettings } from '../src/campaign/timing.js';
import { SandboxGateway } from '../src/sandbox/server.js';
import {
  CLI,
  REDIS_URL,
  untilSent,
  dropQueue,
  fmt,
  message,
  run,
  stop,
  until,
  type Row,
} from './lib.js';

interface Ctx {
  redis: Redis;
  /** Messages waiting ahead of the high campaign. */
  backlog: number;
  /** Messages of the plain and timed throughput runs. */
  n: number;
  rounds: number;
  key: string;
  queue: (name: string) => string;
  log: (s: string) => void;
}

async function enqueue(
  queueName: string,
  campaign: string,
  first: number,
  n: number,
  settings: TimingSettings = {},
): Promise<void> {
  const producer = new Producer({ connection: REDIS_URL, queueName });
  try {
    await producer.enqueue(
      campaign,
      (function* () {
        for (let id = first; id < first + n; id++) yield message(id);
      })(),
      settings,
    );
  } finally {
    await producer.close();
  }
}

const RATE = 400;

async function highBehindBacklog(ctx: Ctx): Promise<Row> {
  const qn = ctx.queue('prio');
  ctx.log(`bench: timing: enqueueing ${fmt(ctx.backlog)} normal messages…`);
  await enqueue(qn, 'bulk', 1, ctx.backlog);
  const sandbox = new SandboxGateway({ apiKey: ctx.key });
  await sandbox.start();
  const env = { VIBER_QUEUE: qn, ALPHASMS_URL: sandbox.url, ALPHASMS_API_KEY: ctx.key };
  const workers = [0, 1].map(() => run(CLI, ['worker', '--rate', String(RATE), '--no-track'], env));
  await until(async () => sandbox.stats.accepted >= 2 * RATE, 'the bulk to be under way', 60_000);
  const started = Date.now();
  await enqueue(qn, 'otp', 10_000_001, 100, { priority: 'high' });
  await until(
    async () => [...sandbox.accepted.keys()].filter((id) => id > 10_000_000).length >= 100,
    'the high campaign',
    60_000,
    10,
  );
  const last = Math.max(
    ...[...sandbox.accepted.values()].filter((m) => m.id > 10_000_000).map((m) => m.at),
  );
  await Promise.all(workers.map(stop));
  await sandbox.close();
  await dropQueue(qn);
  const ms = last - started;
  const budget = 2000 + (100 / RATE) * 1000;
  return {
    what: `7a. a 100-message high campaign enqueued behind ${fmt(ctx.backlog)} waiting normal ones (--rate ${RATE}, 2 worker processes): enqueue to its last acceptance`,
    ours: `${fmt(ms)} ms`,
    baseline: `2 s + 100 at ${RATE}/s = ${fmt(budget)} ms`,
    ratio: `${(ms / budget).toFixed(2)}×`,
    target: `≤ ${fmt(budget)} ms`,
    ok: ms <= budget,
  };
}

async function shares(ctx: Ctx, k: number): Promise<Row> {
  const qn = ctx.queue(`fair${k}`);
  const each = 3000;
  // Enqueued one after another: the first is whole before the next arrives.
  for (let i = 0; i < k; i++) await enqueue(qn, `c${i}`, i * 1_000_000 + 1, each);
  const sandbox = new SandboxGateway({ apiKey: ctx.key });
  await sandbox.start();
  const env = { VIBER_QUEUE: qn, ALPHASMS_URL: sandbox.url, ALPHASMS_API_KEY: ctx.key };
  const workers = [0, 1].map(() => run(CLI, ['worker', '--rate', String(RATE), '--no-track'], env));
  await until(async () => sandbox.stats.accepted >= each * k, 'the campaigns', 120_000);
  await Promise.all(workers.map(stop));
  // While every campaign had messages: the first `each` arrivals (none can run out before).
  const first = [...sandbox.accepted.values()].sort((a, b) => a.at - b.at).slice(0, each);
  const got = Array.from(
    { length: k },
    (_, i) => first.filter((m) => Math.floor((m.id - 1) / 1_000_000) === i).length / first.length,
  );
  await sandbox.close();
  await dropQueue(qn);
  const lo = k === 2 ? 0.35 : 0.23;
  const hi = k === 2 ? 0.65 : 0.43;
  return {
    what: `7${k === 2 ? 'b' : 'c'}. ${k} equal campaigns of ${fmt(each)}, enqueued one after another (--rate ${RATE}, 2 workers): share of the first ${fmt(each)} sent`,
    ours: got.map((g) => `${(g * 100).toFixed(1)}%`).join(' / '),
    baseline: `${(100 / k).toFixed(1)}% each`,
    ratio: got.map((g) => (g * k).toFixed(2)).join(' / '),
    target: `each ${lo * 100}–${hi * 100}%`,
    ok: got.every((g) => g >= lo && g <= hi),
  };
}

async function throughput(ctx: Ctx): Promise<Row> {
  // Settings that make every part of the dispatcher work: a priority, a weight, a deadline, a
  // campaign rate far above what is reached, and a window open now for hours (in Kyiv).
  const kyivHour = Number(
    new Intl.DateTimeFormat('en-GB', { hour: '2-digit', hour12: false, timeZone: 'Europe/Kyiv' })
      .format(new Date())
      .slice(0, 2),
  );
  const open = String((kyivHour + 23) % 24).padStart(2, '0');
  const close = String((kyivHour + 6) % 24).padStart(2, '0');
  const timed: TimingSettings = {
    priority: 'high',
    weight: 2,
    expires: new Date(Date.now() + 6 * 3_600_000),
    campaignRate: 1_000_000,
    window: `${open}:00-${close}:00`,
    tz: 'Europe/Kyiv',
  };
  let plain = Infinity;
  let withTiming = Infinity;
  for (let round = 0; round < ctx.rounds; round++) {
    for (const [label, settings] of [
      ['plain', {}],
      ['timed', timed],
    ] as const) {
      const qn = ctx.queue(`tp-${label}-${round}`);
      await enqueue(qn, 'bench', 1, ctx.n, settings);
      const sandbox = new SandboxGateway({ apiKey: ctx.key, keepMessages: false });
      await sandbox.start();
      const started = performance.now();
      const child = run(CLI, ['worker', '--no-track'], {
        VIBER_QUEUE: qn,
        ALPHASMS_URL: sandbox.url,
        ALPHASMS_API_KEY: ctx.key,
      });
      await untilSent(qn, ctx.redis, ctx.n);
      const ms = performance.now() - started;
      await stop(child);
      await sandbox.close();
      await dropQueue(qn);
      if (label === 'plain') plain = Math.min(plain, ms);
      else withTiming = Math.min(withTiming, ms);
    }
  }
  const ratio = plain / withTiming;
  return {
    what: `7d. send ${fmt(ctx.n)} with priority, weight, window (Europe/Kyiv), deadline and campaign rate set vs the same plain campaign, best of ${ctx.rounds}`,
    ours: `${fmt(ctx.n / (withTiming / 1000))} msg/s`,
    baseline: `${fmt(ctx.n / (plain / 1000))} msg/s`,
    ratio: `${ratio.toFixed(2)}×`,
    target: '≥ 0.90×',
    ok: ratio >= 0.9,
  };
}

export async function benchTiming(ctx: Ctx): Promise<Row[]> {
  const rows = [await highBehindBacklog(ctx)];
  rows.push(await shares(ctx, 2), await shares(ctx, 3));
  rows.push(await throughput(ctx));
  return rows;
}
