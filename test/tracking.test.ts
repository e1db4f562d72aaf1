/**
 * Delivery tracking against real Redis and the sandbox's delivery simulation: every accepted
 * message ends with the gateway's final code on its job and in its campaign's counts. The oracle
 * is the sandbox's own record of each message's fate (what the gateway would say), not the worker.
 */
import { Redis } from 'ioredis';
import { fateOf, type DeliverySimulation } from '../src/sandbox/delivery.js';
import { CampaignStore } from '../src/campaign/store.js';
import type { RedisClient } from '../src/redis.js';
import type { SendJobData, SendJobResult } from '../src/job.js';
import { encodeInfo, startInfo } from '../src/tracking/delivery.js';
import { script } from '../src/commands/index.js';
import { QueueKeys } from '../src/keys.js';
import type { SendWorkerOptions } from '../src/worker/options.js';
import { killAllCliWorkers, startCliWorker } from './cli-worker.js';
import { createRig, type Rig } from './fixture.js';
import { releaseQueued, sampleMessages, testRedis, waitFor } from './helpers.js';

const SIM: DeliverySimulation = {
  delayMs: [100, 600],
  outcomes: { 102: 0.7, 105: 0.1, 103: 0.1, 108: 0.1 },
  readShare: 0.5,
  readDelayMs: [100, 400],
  seed: 42,
};

/**
 * Records one status answer for message 1 of campaign c as a worker would (trackRecord-8.lua),
 * ending its tracking: `record` is its delivery record, `deltas` the count changes.
 */
async function endTracking(
  redis: RedisClient,
  base: string,
  info: string,
  record: string,
  deltas: string,
): Promise<void> {
  const keys = new QueueKeys(base);
  redis.defineCommand('record', { numberOfKeys: 8, lua: script('trackRecord').lua });
  await (redis as RedisClient & { record: (...a: unknown[]) => Promise<number> }).record(
    `${base}vb:track`,
    `${base}vb:trk`,
    `${base}vb:done`,
    ...keys.outbox,
    keys.queued,
    keys.ready,
    keys.control,
    base,
    '1',
    info,
    '',
    0,
    'c',
    record,
    deltas,
    '', // no webhook events: the outbox is off
    '',
    '', // no SMS fallback
    '',
  );
}

/** A completed message's end, as the settle step records it. */
const ACCEPTED = {
  result: {
    msgId: 7,
    statusCode: 1,
    status: 'OK',
    sentAt: '2026-11-28T00:00:00.000Z',
    attempts: 1,
  },
};

/** Fast tracking for tests: first question after 100 ms, then every 100–200 ms. */
const FAST: Partial<SendWorkerOptions> = {
  trackAfterMs: 100,
  trackMaxIntervalMs: 200,
  readWindowMs: 3000,
  trackForMs: 20_000,
};

/** The delivery counts a campaign must end with when every message reached its fate. */
function finalCounts(want: Expected) {
  return {
    tracking: 0,
    delivered: want.delivered,
    read: want.read,
    undelivered: want.undelivered,
    unknown: 0,
    byStatus: want.byStatus,
    until: null, // tracking over
  };
}

interface Expected {
  delivered: number;
  read: number;
  undelivered: number;
  byStatus: Record<string, number>;
  finalOf: Map<number, number>;
}

/** What the gateway says each message's fate is, from the sandbox's record of acceptances. */
function expected(rig: Rig, sim: DeliverySimulation): Expected {
  const out: Expected = { delivered: 0, read: 0, undelivered: 0, byStatus: {}, finalOf: new Map() };
  for (const a of rig.sandbox.accepted.values()) {
    const f = fateOf(a.id, a.at, sim);
    const final = f.readAt !== undefined ? 116 : f.finalCode;
    out.finalOf.set(a.id, final);
    out.byStatus[final] = (out.byStatus[final] ?? 0) + 1;
    if (final === 102 || final === 116) out.delivered++;
    else out.undelivered++;
    if (final === 116) out.read++;
  }
  return out;
}

describe('delivery tracking', () => {
  let rig: Rig;
  afterEach(async () => {
    killAllCliWorkers();
    await rig.close();
  });

  const trackingDone = (campaign: string, timeoutMs = 30_000) =>
    waitFor(
      async () => {
        const c = await rig.inspector.counts(campaign);
        return c.completed + c.failed === c.total && c.delivery.tracking === 0 ? c : undefined;
      },
      `tracking of ${campaign} to end`,
      timeoutMs,
      100,
    );

  it('follows every accepted message to its final code: in its record, in the counts, and READ once after DELIVERED', async () => {
    rig = await createRig('track', { delivery: SIM });
    await rig.producer.enqueue('c', sampleMessages(300, 1));
    const w = await rig.startWorker({ ...FAST, trackBatchSize: 40 });
    const reports: number[] = [];
    w.on('delivery', (r) => reports.push(r.asked));
    const counts = await trackingDone('c');
    const want = expected(rig, SIM);
    expect(counts.completed).toBe(300);
    expect(counts.delivery).toEqual(finalCounts(want));
    expect(want.read).toBeGreaterThan(0);
    expect(want.undelivered).toBeGreaterThan(0);
    // The campaign's per-minute timeline (the console's chart) adds up to what the gateway
    // accepted and what it says was delivered.
    const tr = await testRedis();
    const timeline = await new CampaignStore(tr, rig.queue.toKey(''))
      .timeline('c')
      .finally(() => tr.disconnect());
    expect(timeline.reduce((n, t) => n + t.accepted, 0)).toBe(rig.sandbox.accepted.size);
    expect(timeline.reduce((n, t) => n + t.delivered, 0)).toBe(want.delivered);
    // Each message's finished record (vb:done) carries its result and its fate as the gateway
    // gave it.
    const redis = await testRedis();
    const records = await redis
      .hgetall(rig.queue.toKey('vb:done'))
      .finally(() => redis.disconnect());
    expect(Object.keys(records)).toHaveLength(300);
    for (const [field, raw] of Object.entries(records)) {
      const id = Number(field);
      const rec = JSON.parse(raw) as SendJobData & { result: SendJobResult };
      expect({ id, code: rec.delivery?.code }).toEqual({ id, code: want.finalOf.get(id) });
      expect(rec.delivery?.dateCompleted).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
      expect(rec.delivery?.checkedAt).toMatch(/Z$/);
      expect(rec.result.msgId).toBe(rig.sandbox.accepted.get(id)?.msgId);
      // The message's own fields are untouched by the delivery writes.
      expect(rec.message).toEqual(sampleMessages(300, 1)[id - 1]);
      expect(rec.campaign).toBe('c');
    }
    // Many ids per request: far fewer requests than messages.
    expect(Math.max(...reports)).toBeGreaterThan(1);
    expect(rig.sandbox.stats.statusRequests).toBeLessThan(300);
    const r = await rig.inspector.result(1);
    expect(r?.deliveryCode).toBe(want.finalOf.get(1));
  });

  it('two workers never count one transition twice', async () => {
    // Every message is delivered, and read a second or so later: both workers see most of them
    // DELIVERED first, then READ — each transition must be counted once, whoever saw it.
    rig = await createRig('track2', {
      delivery: { ...SIM, outcomes: { 102: 1 }, readShare: 1, readDelayMs: [800, 1500] },
    });
    await rig.producer.enqueue('c', sampleMessages(200, 1));
    await rig.startWorker({ ...FAST, trackBatchSize: 7, trackRate: 200 });
    await rig.startWorker({ ...FAST, trackBatchSize: 7, trackRate: 200 });
    let seenDelivered = 0;
    for (const w of rig.workers) w.on('delivery', (r) => (seenDelivered += r.codes['102'] ?? 0));
    const counts = await trackingDone('c');
    expect(counts.delivery).toEqual({
      tracking: 0,
      delivered: 200,
      read: 200,
      undelivered: 0,
      unknown: 0,
      byStatus: { '116': 200 },
      until: null,
    });
    expect(seenDelivered).toBeGreaterThan(50);
  });

  it('a 212 answered to <status> pauses every request of the queue, status and send alike', async () => {
    rig = await createRig('track212', { delivery: { ...SIM, delayMs: [1000, 3000] } });
    await rig.producer.enqueue('c', sampleMessages(100, 1));
    await rig.startWorker({ ...FAST, trackBatchSize: 10, trackRate: 50 }); // throttleMs: 1000
    await waitFor(
      async () =>
        (await rig.inspector.counts('c')).completed === 100 &&
        rig.sandbox.stats.statusRequests >= 3,
      'tracking to be under way',
    );
    const at = rig.sandbox.stats.requests;
    rig.sandbox.inject({ kind: 'package-error', code: 212 });
    await waitFor(() => rig.sandbox.stats.faults >= 1, 'the 212', 10_000, 5);
    const t0 = rig.sandbox.requestTimes[at] as number;
    await waitFor(() => Date.now() > t0 + 1200, 'the pause to pass', 5000);
    expect(rig.sandbox.requestTimes.filter((t) => t > t0 + 100 && t < t0 + 900)).toEqual([]);
    const counts = await trackingDone('c');
    expect(counts.delivery.tracking).toBe(0);
    expect(counts.delivery.delivered + counts.delivery.undelivered).toBe(100);
  });

  it('a worker killed mid-round loses no tracked message: another takes its ids after their lease', async () => {
    rig = await createRig('trackkill', { delivery: { ...SIM, delayMs: [500, 1500] } });
    await rig.producer.enqueue('c', sampleMessages(150, 1));
    const args = [
      '--timeout-ms',
      '1000',
      '--track-after-ms',
      '100',
      '--track-max-interval-ms',
      '200',
      '--read-window-ms',
      '2000',
      '--track-batch-size',
      '20',
    ];
    const first = startCliWorker(rig, args);
    await waitFor(() => rig.sandbox.stats.statusRequests >= 3, 'tracking to be under way', 20_000);
    first.child.kill('SIGKILL');
    await first.exited();
    const claimed = await testRedis();
    try {
      // Some ids were claimed by the dead worker (their due time is its lease).
      expect(await claimed.zcard(rig.queue.toKey('vb:track'))).toBeGreaterThan(0);
    } finally {
      claimed.disconnect();
    }
    startCliWorker(rig, args);
    const counts = await trackingDone('c', 60_000);
    const want = expected(rig, { ...SIM, delayMs: [500, 1500] });
    expect(counts.delivery.delivered + counts.delivery.undelivered).toBe(150);
    expect(counts.delivery).toMatchObject({
      delivered: want.delivered,
      read: want.read,
      undelivered: want.undelivered,
      unknown: 0,
    });
  });

  it('rides out faults at <status> (5xx, resets, unreadable answers, 212): every message still ends with its final code, counted once', async () => {
    rig = await createRig('trackfaults', { delivery: SIM });
    await rig.producer.enqueue('c', sampleMessages(200, 1));
    await rig.startWorker({ ...FAST, trackBatchSize: 25, throttleMs: 100 });
    await waitFor(
      async () => (await rig.inspector.counts('c')).completed === 200,
      'the campaign to be sent',
    );
    // From here on every request is a status request: a third of them go wrong.
    rig.sandbox.faultRates = [
      { fault: { kind: 'http-error', status: 503 }, p: 0.1 },
      { fault: { kind: 'reset' }, p: 0.05 },
      { fault: { kind: 'truncate' }, p: 0.05 },
      { fault: { kind: 'html' }, p: 0.05 },
      { fault: { kind: 'package-error', code: 212 }, p: 0.1 },
    ];
    const counts = await trackingDone('c', 60_000);
    rig.sandbox.faultRates = [];
    expect(rig.sandbox.stats.faults).toBeGreaterThan(0);
    const want = expected(rig, SIM);
    expect(counts.delivery).toEqual(finalCounts(want));
  });

  it('counts a transition once when a worker whose lease ran out records after the one that took over', async () => {
    rig = await createRig('tracklease');
    const base = rig.queue.toKey('');
    const redis = await testRedis();
    try {
      redis.defineCommand('claim', { numberOfKeys: 2, lua: script('trackClaim').lua });
      redis.defineCommand('record', { numberOfKeys: 8, lua: script('trackRecord').lua });
      const r = redis as Redis & Record<'claim' | 'record', (...a: unknown[]) => Promise<string[]>>;
      const info = encodeInfo(startInfo('c', 1000));
      await redis.hset(`${base}vb:trk`, '7', info);
      await redis.zadd(`${base}vb:track`, 0, '7');
      // A claims with a lease that runs out at once; B claims the same id after it.
      const a = await r.claim(`${base}vb:track`, `${base}vb:trk`, 10, 0, 10);
      const b = await r.claim(`${base}vb:track`, `${base}vb:trk`, 20, 0, 10);
      expect(a.slice(0, 2)).toEqual(['7', info]);
      expect(b.slice(0, 2)).toEqual(['7', info]);
      // Both saw it on its way and now both see it DELIVERED: B records first, then A.
      const delivered = (old: string) => [
        '7',
        old,
        encodeInfo({ ...startInfo('c', 1000), intervalMs: 100, code: 102, deliveredAt: 5000 }),
        9000,
        'c',
        '{}',
        'dcode:102=1;delivered=1',
        '',
        '',
        '', // no SMS fallback
        '',
      ];
      const qk = new QueueKeys(base);
      const keys = [
        `${base}vb:track`,
        `${base}vb:trk`,
        `${base}vb:done`,
        ...qk.outbox,
        qk.queued,
        qk.ready,
        qk.control,
        base,
      ];
      expect(await r.record(...keys, ...delivered(info))).toBe(1);
      expect(await r.record(...keys, ...delivered(info))).toBe(0);
      expect(await redis.hgetall(`${base}vb:c:c:counts`)).toEqual({
        'dcode:102': '1',
        delivered: '1',
      });
    } finally {
      redis.disconnect();
    }
  });

  it('tracks a message once, even when its completed job comes back after a crash and completes again', async () => {
    rig = await createRig('trackonce');
    await rig.producer.enqueue('c', sampleMessages(1, 1));
    const base = rig.queue.toKey('');
    const redis = await testRedis();
    try {
      const store = new CampaignStore(redis, base);
      // Packaged (its job exists), sent and completed: tracking starts.
      expect(await releaseQueued(rig.queue)).toMatchObject({ released: 1 });
      const [job] = await rig.queue.getJobs(['wait']);
      const accepted = (pkg: string) =>
        store.packages.settle(
          'c',
          pkg,
          [
            {
              id: 1,
              op: 'e',
              state: 'c:1',
              record: JSON.stringify({ campaign: 'c', ...ACCEPTED }),
            },
          ],
          1000,
          { firstDue: 2000, until: 5000 },
        );
      await store.activate('c', [1]);
      await accepted(job?.id ?? '');
      expect((await store.counts('c')).delivery.tracking).toBe(1);
      // Its tracking ends (delivered), as a worker's record would end it.
      const info = (await redis.hget(`${base}vb:trk`, '1')) as string;
      await endTracking(redis, base, info, '{"code":102}', 'dcode:102=1;delivered=1;tracking=-1');
      // A crash after its completion was counted but before BullMQ finished the job: the job
      // comes back as stalled and is run again, and the message is settled again — as it would
      // be if a package still held it (written here: the settle step takes it out of its own).
      await store.activate('c', [1]);
      await accepted(job?.id ?? '');
      await redis.hset(`${base}vb:pkg`, 'p999', 'c\t1');
      await accepted('p999');
      expect((await store.counts('c')).delivery).toMatchObject({ tracking: 0, delivered: 1 });
      expect(await redis.zcard(`${base}vb:track`)).toBe(0);
    } finally {
      redis.disconnect();
    }
  });

  it('records a code the docs do not list as it came, and gives up at the horizon as unknown', async () => {
    rig = await createRig('trackodd', {
      delivery: { ...SIM, outcomes: { 150: 1 }, delayMs: [0, 0] },
    });
    await rig.producer.enqueue('c', sampleMessages(20, 1));
    await rig.startWorker({ ...FAST, trackForMs: 1500 });
    const counts = await trackingDone('c');
    expect(counts.delivery).toEqual({
      tracking: 0,
      delivered: 0,
      read: 0,
      undelivered: 0,
      unknown: 20,
      byStatus: { '150': 20 },
      until: null,
    });
    const r = await rig.inspector.result(3);
    expect(r).toMatchObject({ deliveryCode: 150, delivery: 'CODE_150', deliveredAt: null });
  });

  it('with tracking off, asks nothing and records nothing after acceptance', async () => {
    rig = await createRig('notrack', { delivery: SIM });
    await rig.producer.enqueue('c', sampleMessages(30, 1));
    await rig.startWorker({ ...FAST, track: false });
    await waitFor(
      async () => (await rig.inspector.counts('c')).completed === 30,
      'the campaign to be sent',
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(rig.sandbox.stats.statusRequests).toBe(0);
    expect((await rig.inspector.counts('c')).delivery).toEqual({
      tracking: 0,
      delivered: 0,
      read: 0,
      undelivered: 0,
      unknown: 0,
      byStatus: {},
      until: null,
    });
    expect(await rig.inspector.result(1)).toMatchObject({
      deliveryCode: null,
      delivery: null,
      deliveredAt: null,
    });
  });
});
