/**
 * Bench row 9 (`npm run bench`, step `idle`): what campaigns that wait cost the ones that send.
 * Ten campaigns of n/10 messages each are sent by one worker process (--no-track), once alone and
 * once beside 2,990 campaigns that wait (half paused, half scheduled for tomorrow, one message
 * each, enqueued before the worker starts). Measured: Redis commands per sent message (INFO
 * commandstats, which counts the commands run inside scripts too) and messages per second, from
 * the worker's start to the last acceptance. Best of `rounds`, interleaved.
 */
import type { Redis } from 'ioredis';
import { Producer } from '../src/producer/producer.js';
import { SandboxGateway } from '../src/sandbox/server.js';
import { CLI, dropQueue, fmt, message, REDIS_URL, run, stop, until, type Row } from './lib.js';

export interface IdleBench {
  redis: Redis;
  n: number;
  rounds: number;
  key: string;
  queue(name: string): string;
}

const SENDING = 10;
const WAITING = 2990;

/** Every command Redis has run so far, inside scripts included. */
async function commandCalls(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  let calls = 0;
  for (const m of info.matchAll(/calls=(\d+)/g)) calls += Number(m[1]);
  return calls;
}

async function sendOnce(
  b: IdleBench,
  waiting: number,
  round: number,
): Promise<{ perMessage: number; rate: number }> {
  const queue = b.queue(`idle-${waiting}-${round}`);
  const producer = new Producer({ connection: REDIS_URL, queueName: queue });
  const per = Math.floor(b.n / SENDING);
  let id = 1;
  const tomorrow = new Date(Date.now() + 86_400_000);
  for (let c = 0; c < waiting; c++) {
    const name = `wait${c}`;
    if (c % 2 === 0) {
      await producer.enqueue(name, [message(id++)]);
      await producer.pause(name);
    } else {
      await producer.enqueue(name, [message(id++)], { at: tomorrow });
    }
  }
  for (let c = 0; c < SENDING; c++) {
    const first = id;
    id += per;
    await producer.enqueue(
      `send${c}`,
      (function* () {
        for (let i = first; i < first + per; i++) yield message(i);
      })(),
    );
  }
  await producer.close();
  const sandbox = new SandboxGateway({ apiKey: b.key, keepMessages: false });
  await sandbox.start();
  const before = await commandCalls(b.redis);
  const started = performance.now();
  const child = run(CLI, ['worker', '--no-track'], {
    VIBER_QUEUE: queue,
    ALPHASMS_URL: sandbox.url,
    ALPHASMS_API_KEY: b.key,
  });
  const base = `bull:${queue}:`;
  const sent = async (): Promise<number> => {
    const p = b.redis.pipeline();
    for (let c = 0; c < SENDING; c++) p.hget(`${base}vb:c:send${c}:counts`, 'completed');
    return ((await p.exec()) ?? []).reduce((s, [, v]) => s + Number(v ?? 0), 0);
  };
  await until(async () => (await sent()) >= per * SENDING, `${queue} sent`, 600_000, 100);
  const ms = performance.now() - started;
  const calls = (await commandCalls(b.redis)) - before;
  await stop(child);
  await sandbox.close();
  await dropQueue(queue);
  return { perMessage: calls / (per * SENDING), rate: (per * SENDING) / (ms / 1000) };
}

export async function benchIdle(b: IdleBench): Promise<Row> {
  let alone = { perMessage: Infinity, rate: 0 };
  let beside = { perMessage: Infinity, rate: 0 };
  for (let round = 0; round < b.rounds; round++) {
    for (const waiting of [0, WAITING]) {
      const r = await sendOnce(b, waiting, round);
      const best = waiting === 0 ? alone : beside;
      const next = {
        perMessage: Math.min(best.perMessage, r.perMessage),
        rate: Math.max(best.rate, r.rate),
      };
      if (waiting === 0) alone = next;
      else beside = next;
    }
  }
  const cmdRatio = beside.perMessage / alone.perMessage;
  const rateRatio = beside.rate / alone.rate;
  return {
    what: `9. ${SENDING} campaigns sending ${fmt(b.n)} messages beside ${fmt(WAITING)} waiting ones (paused or scheduled for tomorrow) vs alone: Redis commands per message / msg/s, best of ${b.rounds}`,
    ours: `${fmt(beside.perMessage, 1)} commands; ${fmt(beside.rate)} msg/s`,
    baseline: `${fmt(alone.perMessage, 1)} commands; ${fmt(alone.rate)} msg/s`,
    ratio: `${cmdRatio.toFixed(2)}× / ${rateRatio.toFixed(2)}×`,
    target: '≤ 1.25× / ≥ 0.8×',
    ok: cmdRatio <= 1.25 && rateRatio >= 0.8,
  };
}
