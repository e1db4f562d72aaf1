/**
 * Purge: a finished campaign leaves Redis — jobs, states, counts, tracking — and nothing of any
 * other campaign goes with it. Checked by scanning the queue's keys, not by asking the code.
 */
import { createRig, type Rig } from './fixture.js';
import type { RedisClient } from '../src/redis.js';
import { Producer } from '../src/producer/producer.js';
import { queueKeys, sampleMessages, TEST_REDIS, testRedis, waitFor } from './helpers.js';

describe('purging a campaign', () => {
  let rig: Rig;
  /** Connections a test opened, closed after it. */
  const clients: RedisClient[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await rig.close();
  });

  it('removes a finished campaign: its jobs, states, counts and tracking, and only its own', async () => {
    rig = await createRig('purge', {
      delivery: {
        outcomes: { 102: 1 },
        delayMs: [0, 0],
        readShare: 0,
        readDelayMs: [0, 0],
        seed: 1,
      },
    });
    await rig.producer.enqueue('old', sampleMessages(120, 1));
    await rig.producer.enqueue('keep', sampleMessages(30, 1001));
    await rig.producer.pause('keep');
    await rig.startWorker({ trackAfterMs: 50, trackMaxIntervalMs: 100, readWindowMs: 0 });
    await waitFor(async () => {
      const c = await rig.inspector.counts('old');
      return c.completed === 120 && c.delivery.tracking === 0;
    }, 'old to be sent and tracked');
    const before = await queueKeys(rig.queueName);
    // `keep` was paused before any of it was packaged: only `old` has package jobs.
    const packageJobs = before.filter((k) => /:p\d+$/.test(k));
    expect(packageJobs.length).toBeGreaterThanOrEqual(120 / 50);
    expect(packageJobs).toHaveLength(
      (await rig.queue.getJobCounts('completed'))['completed'] ?? -1,
    );
    const queued = rig.queue.toKey('vb:msg');
    const redis = await testRedis();
    clients.push(redis);
    expect(await redis.hlen(queued)).toBe(30);

    expect(await rig.producer.purge('old')).toBe(120);

    const after = await queueKeys(rig.queueName);
    // Every job of `old` is gone, `keep`'s queued messages are all there.
    expect(after.filter((k) => /:p\d+$/.test(k))).toEqual([]);
    const keepIds = sampleMessages(30, 1001).map((m) => String(m.id));
    expect((await redis.hkeys(queued)).sort()).toEqual(keepIds.sort());
    expect(after.filter((k) => k.includes(':vb:c:old:'))).toEqual([]);
    expect(await rig.queue.getJobCounts('completed')).toEqual({ completed: 0 });
    expect((await rig.inspector.campaigns()).map((c) => c.campaign)).toEqual(['keep']);
    expect(await rig.inspector.counts('keep')).toMatchObject({ total: 30, paused: 30 });
    // Its ids are free again.
    expect((await rig.producer.enqueue('again', sampleMessages(5, 1))).enqueued).toBe(5);
  });

  it('refuses a campaign that is not finished, naming what is left; --force cancels it first and removes it', async () => {
    rig = await createRig('purgeforce');
    await rig.producer.enqueue('c', sampleMessages(40, 1));
    await expect(rig.producer.purge('c')).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message:
        'campaign c is not finished (40 waiting): wait for it, cancel it, or purge with --force',
    });
    const redis = await testRedis();
    clients.push(redis);
    expect(await redis.hlen(rig.queue.toKey('vb:msg'))).toBe(40);
    expect(await rig.producer.purge('c', { force: true })).toBe(40);
    // Never released, so never jobs: their queued data goes too.
    expect(await redis.exists(rig.queue.toKey('vb:msg'))).toBe(0);
    expect(await rig.queue.getJobCounts('wait', 'failed', 'completed')).toEqual({
      wait: 0,
      failed: 0,
      completed: 0,
    });
    expect((await queueKeys(rig.queueName)).filter((k) => /:p\d+$/.test(k))).toEqual([]);
    await expect(rig.producer.purge('c')).rejects.toMatchObject({
      message: 'campaign c has no messages on this queue',
    });
  });

  it('refuses a sent campaign still tracked, saying until when at the latest; --force removes it', async () => {
    rig = await createRig('purgetrack');
    await rig.producer.enqueue('t', sampleMessages(10, 1));
    const before = Date.now();
    await rig.startWorker({ trackAfterMs: 60_000, trackForMs: 120_000, readWindowMs: 60_000 });
    const c = await rig.producer.waitUntilFinished('t', { timeoutMs: 30_000 });
    expect(c).toMatchObject({ completed: 10, delivery: { tracking: 10 } });
    // The last acceptance plus trackForMs and readWindowMs.
    const until = c.delivery.until as number;
    expect(until).toBeGreaterThanOrEqual(before + 180_000);
    expect(until).toBeLessThanOrEqual(Date.now() + 180_000);
    await expect(rig.producer.purge('t')).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: `campaign t is sent, and delivery tracking still follows 10 of its messages, until ${new Date(until).toISOString()} at the latest: purge it after that, or now with --force (its results then lack the delivery reports still to come)`,
    });
    expect(await rig.producer.purge('t', { force: true })).toBe(10);
  });

  it('purges what finished longer ago than asked, and only that; a worker does it on its own with keepFinishedMs', async () => {
    rig = await createRig('purgeold');
    await rig.producer.enqueue('done', sampleMessages(20, 1));
    await rig.startWorker({ track: false });
    await waitFor(async () => (await rig.inspector.counts('done')).completed === 20, 'done sent');
    await rig.producer.enqueue('open', sampleMessages(10, 101));
    await rig.producer.pause('open');
    const done = await rig.inspector.counts('done');
    expect(done.finishedAt).toBeGreaterThan(Date.now() - 30_000);
    expect((await rig.inspector.counts('open')).finishedAt).toBeNull();
    // Finished a moment ago: not older than an hour.
    expect(await rig.producer.purgeFinished(3_600_000)).toEqual([]);
    await new Promise((r) => setTimeout(r, 50));
    expect(await rig.producer.purgeFinished(10)).toEqual([{ campaign: 'done', removed: 20 }]);
    expect((await rig.inspector.campaigns()).map((c) => c.campaign)).toEqual(['open']);

    // A worker with keepFinishedMs does the same by itself.
    await rig.producer.resume('open');
    await rig.startWorker({ track: false, keepFinishedMs: 1000 });
    await waitFor(
      async () => (await rig.inspector.campaigns()).length === 0,
      'the worker to purge the finished campaign',
      15_000,
    );
    expect((await queueKeys(rig.queueName)).filter((k) => /:p\d+$/.test(k))).toEqual([]);
  });

  it('loses nothing to an enqueue of the same campaign at the same moment, and leaves no id that reads as a duplicate but cannot be sent', async () => {
    rig = await createRig('purgerace');
    const redis = await testRedis();
    clients.push(redis);
    const other = new Producer({ connection: TEST_REDIS, queueName: rig.queueName });
    try {
      await rig.producer.enqueue('race', sampleMessages(5000, 1));
      const purged = rig.producer.purge('race', { force: true });
      let done = false;
      void purged.finally(() => (done = true));
      // Enqueues of the same campaign while it is purged: each call is taken whole or refused.
      const taken: number[] = [];
      let refused = 0;
      let next = 100_000;
      while (!done) {
        const batch = sampleMessages(20, next);
        next += 20;
        try {
          expect((await other.enqueue('race', batch)).enqueued).toBe(20);
          taken.push(...batch.map((m) => m.id));
        } catch (err) {
          expect(err).toMatchObject({ code: 'CAMPAIGN_PURGING' });
          refused++;
        }
      }
      const removed = await purged;
      // Every id an enqueue took was either removed by the purge (the purge counts it) or is
      // queued now, sendable: its state, its data and its place in the backlog.
      const base = rig.queue.toKey('');
      const states = await redis.hgetall(`${base}vb:c:race:state`);
      const backlog = new Set(await redis.lrange(`${base}vb:bl:race`, 0, -1));
      const queued = new Set(await redis.hkeys(`${base}vb:msg`));
      const kept = taken.filter((id) => states[id] !== undefined);
      for (const id of kept) {
        expect([states[id], backlog.has(String(id)), queued.has(String(id))]).toEqual([
          'w',
          true,
          true,
        ]);
      }
      expect(removed + kept.length).toBe(5000 + taken.length);
      // Nothing left behind that is neither sendable nor free: queued data only with a state.
      expect([...queued].filter((id) => states[id] === undefined)).toEqual([]);
      expect(await redis.hlen(`${base}vb:done`)).toBe(0);
      // Every id not kept is free again.
      const gone = [...sampleMessages(5000, 1), ...taken.map((id) => sampleMessages(1, id)[0]!)];
      const again = gone.filter((m) => states[m.id] === undefined);
      expect((await other.enqueue('after', again)).enqueued).toBe(again.length);
      expect(refused + taken.length).toBeGreaterThan(0);
    } finally {
      await other.close();
    }
  });
});
