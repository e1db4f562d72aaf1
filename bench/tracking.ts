/**
 * Bench rows 6a–6e (`npm run bench`, step `tracking`): what delivery tracking costs. Our worker
 * sends N messages three times per round, interleaved, against a sandbox that delivers within
 * 0.2–2 s: with --no-track; with tracking on as shipped (first question 60 s after acceptance:
 * what the send path pays for tracking being on); and with tracking asking from 1 s after
 * acceptance, so that it competes with the send for the same two cores. That last run goes on
 * until every message's delivery is final: the status requests it took, the worker's CPU, and
 * the Redis bytes a finished, tracked message keeps.
 */
import type { Redis } from 'ioredis';
import type { DeliverySimulation } from '../src/sandbox/delivery.js';
import { SandboxGateway } from '../src/sandbox/server.js';
import {
  CLI,
  untilSent,
  cpuSeconds,
  dropQueue,
  enqueueOurs,
  fmt,
  run,
  stop,
  until,
  type Row,
  usedMemory,
} from './lib.js';

export interface TrackingBench {
  redis: Redis;
  n: number;
  rounds: number;
  key: string;
  queue(name: string): string;
}

/** The sandbox's delivery simulation for tracking benches: most delivered, some read, within 2 s. */
export function benchDelivery(seed: number): DeliverySimulation {
  return {
    outcomes: { 102: 0.85, 105: 0.05, 103: 0.05, 108: 0.05 },
    delayMs: [200, 2000],
    readShare: 0.4,
    readDelayMs: [200, 1000],
    seed,
  };
}

/** Tracking that asks from 1 s after acceptance (a bench cannot wait the default minute). */
export const TRACK_FLAGS = [
  '--track-after-ms',
  '1000',
  '--track-max-interval-ms',
  '2000',
  '--read-window-ms',
  '3000',
  '--track-rate',
  '50',
];

/**
 * Row 6f: `<status>` lookups per delivered, never-read message over its whole tracking life, with
 * the four tracking defaults all divided by `scale` (a bench cannot wait a day's read window):
 * every message is delivered 0.2–2 s (scaled alike) after acceptance and never read.
 */
export async function benchLookups(b: TrackingBench, scale = 1800): Promise<Row> {
  const flag = (ms: number): string => String(Math.max(1, Math.round(ms / scale)));
  const sandbox = new SandboxGateway({
    apiKey: b.key,
    keepMessages: false,
    delivery: {
      outcomes: { 102: 1 },
      delayMs: [Math.round(200_000 / scale), Math.round(2_000_000 / scale)],
      readShare: 0,
      readDelayMs: [0, 0],
      seed: 1,
    },
  });
  await sandbox.start();
  const n = Math.min(b.n, 10_000);
  const queue = b.queue('lookups');
  await enqueueOurs(queue, n);
  const started = performance.now();
  const child = run(
    CLI,
    [
      'worker',
      '--track-after-ms',
      flag(60_000),
      '--track-max-interval-ms',
      flag(1_800_000),
      '--track-for-ms',
      flag(72 * 3_600_000),
      '--read-window-ms',
      flag(24 * 3_600_000),
      '--track-rate',
      '1000',
    ],
    { VIBER_QUEUE: queue, ALPHASMS_URL: sandbox.url, ALPHASMS_API_KEY: b.key },
  );
  await untilSent(queue, b.redis, n);
  await until(
    async () => (await trackingCount(b.redis, queue)) === 0,
    `${queue} tracked`,
    600_000,
    200,
  );
  const trackedS = (performance.now() - started) / 1000;
  const perMessage = sandbox.stats.statusLookups / n;
  await stop(child);
  await sandbox.close();
  await dropQueue(queue);
  return {
    what: `6f. \`<status>\` lookups per delivered, never-read message (${fmt(n)} messages), the four tracking defaults divided by ${fmt(scale)} (read window ${fmt((24 * 3600) / scale)} s)`,
    ours: `${fmt(perMessage, 2)} lookups (${fmt(sandbox.stats.statusRequests)} requests), tracking over after ${fmt(trackedS, 1)} s`,
    baseline: '—',
    ratio: '—',
    target: '≤ 12',
    ok: perMessage <= 12,
  };
}

async function trackingCount(redis: Redis, queue: string): Promise<number> {
  return Number((await redis.hget(`bull:${queue}:vb:c:bench:counts`, 'tracking')) ?? 0);
}

export async function benchTracking(b: TrackingBench): Promise<Row[]> {
  let on = Infinity;
  let dense = Infinity;
  let off = Infinity;
  let statusRequests = 0;
  let cpuTracked = 0;
  let cpuUntracked = 0;
  let bytesFinished = 0;
  let trackedMs = 0;
  for (let round = 0; round < b.rounds; round++) {
    for (const mode of ['off', 'on', 'dense'] as const) {
      const track = mode === 'dense';
      const sandbox = new SandboxGateway({
        apiKey: b.key,
        keepMessages: false,
        delivery: benchDelivery(round),
      });
      await sandbox.start();
      const queue = b.queue(`track-${mode}-${round}`);
      const before = await usedMemory(b.redis);
      await enqueueOurs(queue, b.n);
      const started = performance.now();
      const flags = mode === 'off' ? ['--no-track'] : mode === 'dense' ? TRACK_FLAGS : [];
      const child = run(CLI, ['worker', ...flags], {
        VIBER_QUEUE: queue,
        ALPHASMS_URL: sandbox.url,
        ALPHASMS_API_KEY: b.key,
      });
      await untilSent(queue, b.redis, b.n);
      const sentMs = performance.now() - started;
      if (mode === 'on') on = Math.min(on, sentMs);
      if (track) {
        dense = Math.min(dense, sentMs);
        await until(
          async () => (await trackingCount(b.redis, queue)) === 0,
          `${queue} tracked`,
          600_000,
          200,
        );
        trackedMs = performance.now() - started;
        statusRequests = sandbox.stats.statusRequests;
        cpuTracked = cpuSeconds(child.proc.pid as number);
        bytesFinished = ((await usedMemory(b.redis)) - before) / b.n;
      } else if (mode === 'off') {
        off = Math.min(off, sentMs);
        cpuUntracked = cpuSeconds(child.proc.pid as number);
      }
      await stop(child);
      await sandbox.close();
      await dropQueue(queue);
    }
  }
  const ratio = off / on;
  return [
    {
      what: `6a. send ${fmt(b.n)} with delivery tracking on (the defaults) vs --no-track, best of ${b.rounds}`,
      ours: `${fmt(b.n / (on / 1000))} msg/s`,
      baseline: `${fmt(b.n / (off / 1000))} msg/s`,
      ratio: `${ratio.toFixed(2)}×`,
      target: '≥ 0.90×',
      ok: ratio >= 0.9,
    },
    {
      what: `6b. the same, tracking asking from 1 s after acceptance (tracking and sending share the two cores) vs --no-track`,
      ours: `${fmt(b.n / (dense / 1000))} msg/s`,
      baseline: `${fmt(b.n / (off / 1000))} msg/s`,
      ratio: `${(off / dense).toFixed(2)}×`,
      target: '—',
      ok: null,
    },
    {
      what: `6c. status requests to follow ${fmt(b.n)} messages to their final code (200 ids a request)`,
      ours: `${fmt(statusRequests)} requests (${fmt(b.n / Math.max(1, statusRequests))} messages each), all final after ${fmt(trackedMs / 1000, 1)} s`,
      baseline: '—',
      ratio: '—',
      target: 'thousands, not millions, for a million',
      ok: statusRequests <= b.n / 20,
    },
    {
      what: `6d. worker CPU: send and track ${fmt(b.n)} to final vs send only (--no-track), last round`,
      ours: `${fmt(cpuTracked, 1)} s`,
      baseline: `${fmt(cpuUntracked, 1)} s`,
      ratio: `${(cpuTracked / Math.max(0.01, cpuUntracked)).toFixed(2)}×`,
      target: '—',
      ok: null,
    },
    {
      what: '6e. Redis memory per finished, tracked message, every row carrying its own text and image (record, state, counts)',
      ours: `${fmt(bytesFinished)} B`,
      baseline: '—',
      ratio: '—',
      target: '≤ 1,024 B',
      ok: bytesFinished <= 1024,
    },
  ];
}
