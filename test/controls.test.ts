import { setTimeout as sleep } from 'node:timers/promises';
import { state as st } from '../src/campaign/state.js';
import { CampaignStore } from '../src/campaign/store.js';
import { createRig, type Rig } from './fixture.js';
import {
  endedByJobs,
  messageCounts,
  messages,
  messageView,
  sampleMessages,
  testRedis,
  waitFor,
} from './helpers.js';

describe('steering campaigns while they run', () => {
  let rig: Rig;
  afterEach(async () => {
    await rig.close();
  });

  const settled = (campaign: string) =>
    waitFor(async () => {
      const c = await rig.inspector.counts(campaign);
      return c.total > 0 && c.completed + c.failed + c.cancelled + c.expired === c.total
        ? c
        : undefined;
    }, `${campaign} to settle`);

  it('pauses one campaign while others flow, keeps it paused across a worker restart, and resumes it', async () => {
    rig = await createRig('pause', { latencyMs: 20 });
    await rig.producer.enqueue('a', sampleMessages(300, 1));
    await rig.producer.enqueue('b', sampleMessages(200, 1001));
    expect(await rig.producer.pause('a')).toBe(300);
    const first = await rig.startWorker({ batchSize: 20 });
    await settled('b');
    await waitFor(
      async () => (await messageCounts(rig.queue, 'active')).active === 0,
      'nothing active',
    );
    const a = await rig.inspector.counts('a');
    expect(a).toMatchObject({ control: 'paused', paused: 300, completed: 0, active: 0 });
    await first.close();

    // A new worker: a new campaign goes out, the paused one still does not.
    await rig.startWorker({ batchSize: 20 });
    await rig.producer.enqueue('c', sampleMessages(100, 2001));
    await settled('c');
    expect(await rig.inspector.counts('a')).toMatchObject({ paused: 300, completed: 0 });
    expect([...rig.sandbox.accepted.keys()].some((id) => id <= 300)).toBe(false);

    expect(await rig.producer.resume('a')).toBe(300);
    const done = await settled('a');
    expect(done).toMatchObject({ control: null, completed: 300, paused: 0, failed: 0 });
    expect(rig.sandbox.stats.accepted).toBe(600);
    expect(rig.sandbox.stats.duplicates).toBe(0);
  });

  it('cancels what is not sent yet while a worker runs; what was accepted stays accepted', async () => {
    rig = await createRig('cancel', { latencyMs: 30 });
    await rig.producer.enqueue('c', sampleMessages(600, 1));
    await rig.startWorker({ batchSize: 20, concurrency: 2 });
    await waitFor(async () => (await rig.inspector.counts('c')).completed >= 40, 'some sent');
    const cancelled = await rig.producer.cancel('c');
    expect(cancelled).toBeGreaterThan(0);
    const c = await settled('c');
    await waitFor(
      async () => (await messageCounts(rig.queue, 'active', 'wait')).wait === 0,
      'the queue to drain',
    );
    expect(c.cancelled).toBe(cancelled);
    expect(c.completed).toBe(rig.sandbox.stats.accepted);
    expect(c.completed + c.cancelled).toBe(600);
    expect(c.control).toBe('cancelled');
    const rows = [];
    for await (const r of rig.inspector.results('c')) rows.push(r);
    expect(rows.filter((r) => r.state === 'cancelled')).toHaveLength(cancelled);
    expect(
      rows
        .filter((r) => r.state === 'completed')
        .every((r) => r.msgId === rig.sandbox.accepted.get(r.id)?.msgId),
    ).toBe(true);
    await expect(rig.producer.resume('c')).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: 'campaign c is cancelled',
    });
  });

  it('never sends a message a cancel has moved, whatever the control says; a half-done resume sends', async () => {
    // A worker decides by the control and each message's own state, read in one step. Reproduced
    // by moving states alone: 1 and 2 as cancel leaves them, 3 as a resume that has cleared the
    // control but not yet moved it back.
    rig = await createRig('straddle');
    await rig.producer.enqueue('c', sampleMessages(10, 1));
    const redis = await testRedis();
    try {
      const store = new CampaignStore(redis, rig.queue.toKey(''));
      await store.transition('c', [
        [1, st.cancelled],
        [2, st.cancelled],
        [3, st.paused],
      ]);
    } finally {
      redis.disconnect();
    }
    await rig.startWorker();
    await waitFor(async () => (await rig.inspector.counts('c')).completed === 8, '8 sent');
    await waitFor(
      async () =>
        (await messages(rig.queue, ['cancelled'])).filter((m) => m.failedReason).length === 2,
      'the cancelled messages to end with their records',
    );
    expect([...rig.sandbox.accepted.keys()].sort((x, y) => x - y)).toEqual([
      3, 4, 5, 6, 7, 8, 9, 10,
    ]);
    expect(await rig.inspector.counts('c')).toMatchObject({
      completed: 8,
      cancelled: 2,
      paused: 0,
      active: 0,
      waiting: 0,
    });
  });

  it('pauses a campaign sending at a steady rate: after pause() returns, the gateway takes at most the messages already marked active, and resume finishes it', async () => {
    rig = await createRig('livepause', { latencyMs: 10, dedupe: false });
    await rig.producer.enqueue('c', sampleMessages(1000, 1));
    await rig.startWorker({ batchSize: 10, concurrency: 3, rate: 200 });
    await rig.startWorker({ batchSize: 10, concurrency: 3, rate: 200 });
    await waitFor(
      async () => (await rig.inspector.counts('c')).completed >= 100,
      'the campaign to be sending',
    );
    await rig.producer.pause('c');
    // What may still go out: what was marked active (those packages were past the check when
    // pause wrote the control), plus what the gateway had taken. Active first: a message that
    // leaves 'active' meanwhile has been taken by then, so it is counted in one or the other.
    const activeAtPause = (await rig.inspector.counts('c')).active;
    const takenAtPause = rig.sandbox.stats.accepted;
    await sleep(1500); // at 200 msg/s, a pause that did not hold would let ~300 more through
    const afterPause = rig.sandbox.stats.accepted;
    expect(afterPause).toBeLessThanOrEqual(takenAtPause + activeAtPause);
    expect(await rig.inspector.counts('c')).toMatchObject({ control: 'paused', active: 0 });
    expect(afterPause).toBeLessThan(1000);

    await rig.producer.resume('c');
    const done = await settled('c');
    expect(done).toMatchObject({ completed: 1000, paused: 0, failed: 0, control: null });
    expect(rig.sandbox.stats.accepted).toBe(1000); // no dedupe at the gateway: none sent twice
  });

  it('at a low rate, once pause or cancel returns, only the package already on the wire still goes out', async () => {
    // 20 msg/s in packages of 10: a worker holds up to 4 packages waiting for their slots, so a
    // check made before the slot (not after) would let ~40 more out after the pause.
    rig = await createRig('lowrate', { dedupe: false });
    await rig.producer.enqueue('c', sampleMessages(300, 1));
    await rig.startWorker({ batchSize: 10, lingerMs: 20, concurrency: 4, rate: 20 });
    await waitFor(() => rig.sandbox.stats.accepted >= 30, 'the campaign to be sending');
    await rig.producer.pause('c');
    const atPause = rig.sandbox.stats.accepted;
    await sleep(2500); // 50 messages' worth of slots at 20/s
    expect(rig.sandbox.stats.accepted).toBeLessThanOrEqual(atPause + 10);

    await rig.producer.resume('c');
    await waitFor(() => rig.sandbox.stats.accepted >= atPause + 30, 'the campaign to go on');
    const cancelled = await rig.producer.cancel('c');
    const atCancel = rig.sandbox.stats.accepted;
    await sleep(2500);
    expect(rig.sandbox.stats.accepted).toBeLessThanOrEqual(atCancel + 10);
    const done = await settled('c');
    expect(done.cancelled).toBe(cancelled);
    expect(done.completed + done.cancelled).toBe(300);
    expect(done.completed).toBe(rig.sandbox.stats.accepted);
    // Most of it was still queued: ended by the dispatcher without a job ever made (what workers
    // held ended in their package jobs). Every cancelled message says why, job or not.
    expect(await endedByJobs(rig.queue, 'cancelled')).toBeLessThan(done.cancelled / 2);
    let said = 0;
    for await (const r of rig.inspector.results('c')) {
      if (r.state !== 'cancelled') continue;
      expect({ id: r.id, error: r.error }).toEqual({
        id: r.id,
        error: 'cancelled: campaign c was cancelled',
      });
      said++;
    }
    expect(said).toBe(done.cancelled);
  });

  it('never sends a campaign past its deadline: what waited ends expired, what the gateway took stays accepted', async () => {
    rig = await createRig('expires', { dedupe: false });
    const deadline = new Date(Date.now() + 1200);
    await rig.producer.enqueue('c', sampleMessages(200, 1), { expires: deadline });
    // 20 msg/s in packages of 10: about two packages go out before the deadline.
    await rig.startWorker({ batchSize: 10, lingerMs: 20, concurrency: 2, rate: 20 });
    const done = await settled('c');
    expect(done.completed).toBeGreaterThan(0);
    expect(done.expired).toBeGreaterThan(0);
    expect(done.completed + done.expired).toBe(200);
    expect(done.completed).toBe(rig.sandbox.stats.accepted);
    // Nothing reached the gateway after the deadline (a package checked just before it may be
    // on the wire for a few milliseconds).
    for (const t of rig.sandbox.arrivals) expect(t).toBeLessThan(deadline.getTime() + 200);
    // Each expired message says why, whether a worker ended its job or the dispatcher ended it
    // still queued (no job made); none has a msg_id.
    const expired = [];
    for await (const r of rig.inspector.results('c')) if (r.state === 'expired') expired.push(r);
    expect(expired).toHaveLength(done.expired);
    for (const r of expired) {
      expect({ id: r.id, error: r.error, msgId: r.msgId, phone: r.phone }).toEqual({
        id: r.id,
        error: 'expired: campaign c passed its deadline before this was sent',
        msgId: null,
        phone: sampleMessages(200, 1)[r.id - 1]?.phone,
      });
    }
    // Package jobs ended those a worker held; the rest never were in a job.
    expect(await endedByJobs(rig.queue, 'expired')).toBeLessThanOrEqual(done.expired);
  });

  it('expires a campaign whose deadline passed before any worker ran, and refuses a deadline in the past', async () => {
    rig = await createRig('expired');
    await expect(
      rig.producer.enqueue('c', sampleMessages(5, 1), { expires: new Date(Date.now() - 1000) }),
    ).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining('expires is already in the past'),
    });
    expect(await messageCounts(rig.queue, 'wait')).toEqual({ wait: 0 });
    await rig.producer.enqueue('c', sampleMessages(30, 1), { expires: new Date(Date.now() + 300) });
    await sleep(500);
    await rig.startWorker();
    expect(await settled('c')).toMatchObject({ expired: 30, completed: 0 });
    expect(rig.sandbox.stats.requests).toBe(0);
    // A later deadline, set on the live campaign, lets a new enqueue go out.
    await rig.producer.enqueue('d', sampleMessages(10, 101), {
      expires: new Date(Date.now() + 300),
    });
    await rig.producer.schedule('d', { expires: null });
    expect(await settled('d')).toMatchObject({ completed: 10, expired: 0 });
  });

  it('pauses and resumes while a worker is sending: nothing waits for the parked-job recheck', async () => {
    rig = await createRig('flip', { latencyMs: 15 });
    await rig.producer.enqueue('c', sampleMessages(2000, 1));
    await rig.startWorker({ batchSize: 10, concurrency: 4 });
    for (let i = 0; i < 8; i++) {
      const before = (await rig.inspector.counts('c')).completed;
      await waitFor(
        async () => (await rig.inspector.counts('c')).completed >= before + 100,
        'some sent',
      );
      await rig.producer.pause('c');
      // Resume while the worker is still parking what it held: the race a parked job must survive.
      await sleep(i * 5);
      await rig.producer.resume('c');
    }
    const done = await settled('c');
    expect(done).toMatchObject({ completed: 2000, paused: 0, failed: 0, control: null });
    expect(rig.sandbox.stats.accepted).toBe(2000);
    expect(rig.sandbox.stats.duplicates).toBe(0);
  });

  it('re-queues failed messages with the chosen codes only, keeping their ids', async () => {
    let failing = true;
    rig = await createRig('retry', {
      codeFor: (m) =>
        !failing ? undefined : m.id === '3' || m.id === '13' ? 203 : m.id === '7' ? 204 : undefined,
    });
    await rig.producer.enqueue('c', sampleMessages(20, 1));
    await rig.startWorker();
    expect(await settled('c')).toMatchObject({
      completed: 17,
      failed: 3,
      byStatus: { '1': 17, '203': 2, '204': 1 },
    });
    await waitFor(
      async () => (await messageCounts(rig.queue, 'failed')).failed === 3,
      'BullMQ to agree',
    );
    failing = false;
    expect(await rig.producer.retryFailed('c', [203])).toBe(2);
    const c = await waitFor(async () => {
      const x = await rig.inspector.counts('c');
      return x.completed === 19 ? x : undefined;
    }, 'the retried messages to be sent');
    expect(c).toMatchObject({ failed: 1, byStatus: { '1': 19, '204': 1 } });
    await waitFor(async () => (await messageView(rig.queue, 13))?.returnvalue, 'm13 completed');
    expect((await messageView(rig.queue, 13))?.returnvalue).toMatchObject({
      msgId: rig.sandbox.accepted.get(13)?.msgId,
      attempts: 1,
    });
    expect(await rig.producer.retryFailed('c')).toBe(1);
  });
});
