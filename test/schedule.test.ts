/**
 * Campaign timing and priority, end to end: real Redis, real workers (in process and as CLI
 * processes), the sandbox gateway's own record of when each message arrived as the oracle.
 */
import { createRig, type Rig } from './fixture.js';
import { killAllCliWorkers, startCliWorker } from './cli-worker.js';
import { releaseQueued, sampleMessages, testRedis, waitFor, messageCounts } from './helpers.js';

/** Arrival time of each accepted id, in arrival order. */
const arrivals = (rig: Rig): Array<{ id: number; at: number }> =>
  [...rig.sandbox.accepted.values()]
    .map((m) => ({ id: m.id, at: m.at }))
    .sort((a, b) => a.at - b.at);

/** How many of the first `n` arrivals belong to each id range. */
function shares(rig: Rig, n: number, ranges: Record<string, [number, number]>) {
  const first = arrivals(rig).slice(0, n);
  return Object.fromEntries(
    Object.entries(ranges).map(([k, [lo, hi]]) => [
      k,
      first.filter((a) => a.id >= lo && a.id <= hi).length / first.length,
    ]),
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('campaign timing and priority', () => {
  let rig: Rig;
  afterEach(async () => {
    killAllCliWorkers();
    await rig?.close();
  });

  it('--at: nothing goes before the start, status says scheduled, and it starts on time across a worker restart', async () => {
    rig = await createRig('at');
    await rig.startWorker({ track: false });
    const at = new Date(Date.now() + 2500);
    await rig.producer.enqueue('later', sampleMessages(30, 1), { at });
    expect(await rig.inspector.counts('later')).toMatchObject({
      scheduled: 30,
      waiting: 0,
      opensAt: at.getTime(),
      schedule: expect.objectContaining({ at: at.toISOString() }),
    });
    // The worker that was running goes away; another starts before the time comes.
    await sleep(500);
    await rig.workers[0]?.close();
    await rig.startWorker({ track: false });
    await waitFor(
      async () => (await rig.inspector.counts('later')).completed === 30,
      'the scheduled campaign to be sent',
      10_000,
    );
    const times = arrivals(rig).map((a) => a.at);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(at.getTime());
    // It started within a second or two of its time.
    expect(Math.max(...times) - at.getTime()).toBeLessThan(2000);
  });

  it('a window that is closed now holds the campaign (no worker busy with it) until schedule opens it', async () => {
    rig = await createRig('window');
    const worker = await rig.startWorker({ track: false });
    let batches = 0;
    worker.on('batch', () => batches++);
    // A window that opens in two hours, in UTC.
    const h = (new Date().getUTCHours() + 2) % 24;
    const hh = String(h).padStart(2, '0');
    const hh2 = String((h + 1) % 24).padStart(2, '0');
    await rig.producer.enqueue('night', sampleMessages(40, 1), { window: `${hh}:00-${hh2}:00` });
    await rig.producer.enqueue('now', sampleMessages(10, 101));
    await waitFor(
      async () => (await rig.inspector.counts('now')).completed === 10,
      'the other campaign to go',
    );
    await sleep(700);
    expect(rig.sandbox.stats.accepted).toBe(10);
    // Its messages were never taken by a worker: no rate slots, no fetches. Status says until when.
    const night = await rig.inspector.counts('night');
    expect(night).toMatchObject({ waiting: 40, active: 0 });
    const opens = new Date();
    opens.setUTCHours(h, 0, 0, 0);
    if (opens.getTime() <= Date.now()) opens.setUTCDate(opens.getUTCDate() + 1);
    expect(night.opensAt).toBe(opens.getTime());
    const batchesBefore = batches;
    await sleep(500);
    expect(batches).toBe(batchesBefore);
    await rig.producer.schedule('night', { window: null });
    await waitFor(
      async () => (await rig.inspector.counts('night')).completed === 40,
      'the campaign to go once its window is lifted',
      5000,
    );
  });

  it('a window closing mid-campaign: once it closes, at most the package on the wire still goes out', async () => {
    rig = await createRig('winclose');
    await rig.startWorker({ track: false, rate: 50, batchSize: 10 });
    const redis = await testRedis();
    try {
      // A window whose next opening is hours away, and a gate that says "open for one more
      // second" (as if its interval were ending now): the workers must hold back once it ends,
      // then compute the next interval themselves.
      const h = String((new Date().getUTCHours() + 3) % 24).padStart(2, '0');
      await rig.producer.enqueue('c', sampleMessages(200, 1), { window: `${h}:00-${h}:30` });
      const base = rig.queue.toKey('');
      const closes = Date.now() + 1000;
      await redis.hset(`${base}vb:gate`, 'c', `1:1:0:0:${closes}`);
      await sleep(2500);
      const late = arrivals(rig).filter((a) => a.at > closes + 200);
      expect(late).toEqual([]);
      const sent = rig.sandbox.stats.accepted;
      expect(sent).toBeGreaterThan(20);
      expect(sent).toBeLessThan(200);
      // The gate now points at the next window, hours away; the rest waits, counted as waiting.
      const gate = (await redis.hget(`${base}vb:gate`, 'c')) ?? '';
      expect(Number(gate.split(':')[3])).toBeGreaterThan(Date.now() + 3_600_000);
      expect(await rig.inspector.counts('c')).toMatchObject({
        completed: sent,
        waiting: 200 - sent,
      });
    } finally {
      redis.disconnect();
    }
  });

  it('waiting campaigns cost the dispatcher nothing: paused and scheduled ones sleep outside its walk until their time, a resume or a schedule change', async () => {
    rig = await createRig('idle');
    const redis = await testRedis();
    try {
      const base = rig.queue.toKey('');
      const ready = async () => (await redis.smembers(`${base}vb:ready`)).sort();
      const inSoon = new Date(Date.now() + 1500);
      await rig.producer.enqueue('go', sampleMessages(5, 1));
      await rig.producer.enqueue('paused', sampleMessages(5, 101));
      await rig.producer.pause('paused');
      await rig.producer.enqueue('expiring', sampleMessages(5, 201), {
        expires: new Date(Date.now() + 1200),
      });
      await rig.producer.pause('expiring');
      await rig.producer.enqueue('soon', sampleMessages(5, 301), { at: inSoon });
      await rig.producer.enqueue('tomorrow', sampleMessages(5, 401), {
        at: new Date(Date.now() + 86_400_000),
      });
      expect(await releaseQueued(rig.queue)).toMatchObject({ released: 5 });
      // Only what may send is walked; the rest sleeps until its start or deadline, or for good.
      expect(await ready()).toEqual(['go']);
      const sleeping = await redis.zrange(`${base}vb:sleep`, 0, -1, 'WITHSCORES');
      expect(sleeping.filter((_, i) => i % 2 === 0).sort()).toEqual([
        'expiring',
        'soon',
        'tomorrow',
      ]);
      expect(Number(sleeping[sleeping.indexOf('soon') + 1])).toBe(inSoon.getTime());
      // A schedule change and a resume wake a campaign at once.
      await rig.producer.schedule('tomorrow', { at: null });
      await rig.producer.resume('paused');
      expect(await releaseQueued(rig.queue)).toMatchObject({ released: 10 });
      // Their time comes: one starts, the other's deadline passes and it is swept, unsent.
      await sleep(1600);
      expect(await releaseQueued(rig.queue)).toMatchObject({ released: 5, swept: 5 });
      expect(await rig.inspector.counts('expiring')).toMatchObject({ expired: 5, paused: 0 });
      expect(await redis.zcard(`${base}vb:sleep`)).toBe(0);
    } finally {
      redis.disconnect();
    }
  });

  it('priority: a high campaign enqueued behind a large normal backlog goes out at once', async () => {
    rig = await createRig('prio');
    await rig.startWorker({ track: false, rate: 100, batchSize: 10 });
    await rig.producer.enqueue('bulk', sampleMessages(2000, 1));
    await waitFor(() => rig.sandbox.stats.accepted >= 100, 'the bulk campaign to be under way');
    const enqueued = Date.now();
    await rig.producer.enqueue('otp', sampleMessages(200, 10_001), { priority: 'high' });
    await waitFor(
      async () => (await rig.inspector.counts('otp')).completed === 200,
      'the high campaign',
      10_000,
    );
    const otp = arrivals(rig).filter((a) => a.id > 10_000);
    const last = Math.max(...otp.map((a) => a.at));
    // 2 s plus its own time at the rate (200 at 100/s).
    expect(last - enqueued).toBeLessThan(4000);
    // What was released before it (at most `releaseAhead`: one second at the rate) drains; after
    // that nothing of the bulk goes until the high campaign is done — not a fair share.
    const bulkDuring = arrivals(rig).filter(
      (a) => a.id <= 2000 && a.at > enqueued + 1500 && a.at < last,
    );
    expect(bulkDuring).toEqual([]);
    // Cancelled, the rest of the bulk ends at once: its messages take no rate slots.
    const cancelledAt = Date.now();
    await rig.producer.cancel('bulk');
    // Counted cancelled at once; what was still queued ends without a job (the dispatcher keeps
    // its data as its record), released jobs end (failed, unsent) as workers reach them.
    const redis = await testRedis();
    try {
      await waitFor(
        async () => {
          const q = await messageCounts(rig.queue, 'wait', 'active', 'delayed');
          const queued = await redis.exists(rig.queue.toKey('vb:msg'));
          return q['wait'] === 0 && q['active'] === 0 && q['delayed'] === 0 && queued === 0;
        },
        'the cancelled bulk to end',
        5000,
      );
      const c = await rig.inspector.counts('bulk');
      expect(c.completed + c.cancelled).toBe(2000);
      const { failed } = await messageCounts(rig.queue, 'failed');
      expect(failed).toBeLessThan(c.cancelled);
      // Every message has its finished record: sent, ended by a worker, or ended while queued.
      expect(await redis.hlen(rig.queue.toKey('vb:done'))).toBe(200 + 2000);
    } finally {
      redis.disconnect();
    }
    expect(Date.now() - cancelledAt).toBeLessThan(5000);
  });

  it('fair share: two equal campaigns each get about half, whichever came first; weight 3 gets three quarters', async () => {
    rig = await createRig('fair');
    await rig.producer.enqueue('a', sampleMessages(600, 1));
    await rig.producer.enqueue('b', sampleMessages(300, 1001));
    await rig.producer.enqueue('w3', sampleMessages(600, 2001), { weight: 3, priority: 'low' });
    await rig.producer.enqueue('w1', sampleMessages(200, 3001), { priority: 'low' });
    await rig.startWorker({ track: false, rate: 200, batchSize: 10 });
    // While both a and b have messages (b's 300 last at least the first 500 arrivals).
    await waitFor(() => rig.sandbox.stats.accepted >= 500, '500 arrivals', 20_000);
    const ab = shares(rig, 500, { a: [1, 1000], b: [1001, 2000] });
    expect(ab['a']).toBeGreaterThan(0.35);
    expect(ab['a']).toBeLessThan(0.65);
    expect(ab['b']).toBeGreaterThan(0.35);
    // Low priority waits for every normal message.
    expect(
      arrivals(rig)
        .slice(0, 500)
        .filter((a) => a.id > 2000),
    ).toEqual([]);
    await waitFor(() => rig.sandbox.stats.accepted >= 900 + 400, 'the low campaigns', 20_000);
    const low = arrivals(rig)
      .filter((a) => a.id > 2000)
      .slice(0, 400);
    const w3 = low.filter((a) => a.id <= 3000).length / low.length;
    expect(w3).toBeGreaterThan(0.65);
    expect(w3).toBeLessThan(0.85);
  });

  it('three equal campaigns, enqueued at different times, each get about a third; a campaign rate caps one alone', async () => {
    rig = await createRig('fair3');
    await rig.startWorker({ track: false, rate: 150, batchSize: 10 });
    await rig.producer.enqueue('x', sampleMessages(900, 1));
    await waitFor(() => rig.sandbox.stats.accepted >= 150, 'x under way');
    await rig.producer.enqueue('y', sampleMessages(400, 1001));
    await rig.producer.enqueue('z', sampleMessages(400, 2001));
    await rig.producer.enqueue('capped', sampleMessages(60, 3001), { campaignRate: 10 });
    const from = Date.now() + 1500; // what was released before y and z has gone by then
    await sleep(4500);
    const window = arrivals(rig).filter((a) => a.at >= from && a.id <= 3000);
    for (const [lo, hi] of [
      [1, 1000],
      [1001, 2000],
      [2001, 3000],
    ] as const) {
      const share = window.filter((a) => a.id >= lo && a.id <= hi).length / window.length;
      expect(share).toBeGreaterThan(0.23);
      expect(share).toBeLessThan(0.43);
    }
    // The capped campaign: about 10 a second (a one-second burst to start), not its fair third.
    const capped = arrivals(rig).filter((a) => a.id > 3000);
    const span =
      (Math.max(...capped.map((a) => a.at)) - Math.min(...capped.map((a) => a.at))) / 1000;
    expect(capped.length).toBeLessThanOrEqual(10 + 10 * (span + 1));
    expect(capped.length).toBeGreaterThan(20);
  });

  it('two CLI worker processes, one killed -9 mid-wait: a scheduled high campaign still goes once, on time', async () => {
    rig = await createRig('atfleet');
    const a = startCliWorker(rig, ['--no-track']);
    const b = startCliWorker(rig, ['--no-track']);
    const at = new Date(Date.now() + 3000);
    await rig.producer.enqueue('flash', sampleMessages(300, 1), { at, priority: 'high' });
    await sleep(1000);
    a.child.kill('SIGKILL');
    await a.exited();
    await waitFor(
      async () => (await rig.inspector.counts('flash')).completed === 300,
      'the campaign',
      15_000,
    );
    expect(Math.min(...arrivals(rig).map((x) => x.at))).toBeGreaterThanOrEqual(at.getTime());
    expect(rig.sandbox.stats.accepted).toBe(300);
    expect(rig.sandbox.stats.duplicates).toBe(0);
    b.child.kill('SIGTERM');
    await b.exited();
  });
});
