/**
 * What Redis keeps of a message, and for how long: a queued message is its record in the queued
 * hash (no BullMQ job until the dispatcher packages it); one that ended is its finished record
 * (package jobs are removed but the newest KEEP_COMPLETED_JOBS completed and KEEP_FAILED_JOBS
 * failed, for bull-board). Results, dedupe and
 * purge work from those. The oracle for each message is the sandbox's record of what the gateway
 * accepted.
 */
import {
  KEEP_COMPLETED_JOBS,
  KEEP_FAILED_JOBS,
  type FinishedRecord,
  type PackageJobResult,
} from '../src/job.js';
import type { RedisClient } from '../src/redis.js';
import { createRig, type Rig } from './fixture.js';
import { sampleMessages, testRedis, waitFor } from './helpers.js';

describe('what is kept of a message', () => {
  let rig: Rig;
  let redis: RedisClient;

  afterEach(async () => {
    redis?.disconnect();
    await rig?.close();
  });

  it('keeps a record of every completed message, the newest jobs only, and still refuses a sent id', async () => {
    const n = KEEP_COMPLETED_JOBS + 150;
    rig = await createRig('records');
    redis = await testRedis();
    const msgs = sampleMessages(n, 1);
    await rig.producer.enqueue('big', msgs);
    // Queued: no job at all yet, one queued-data field each.
    expect(await redis.hlen(rig.queue.toKey('vb:msg'))).toBe(n);
    expect(await rig.queue.getJobCounts('wait', 'delayed', 'completed')).toEqual({
      wait: 0,
      delayed: 0,
      completed: 0,
    });

    // One message a package: more package jobs than BullMQ keeps.
    await rig.startWorker({ track: false, batchSize: 1, concurrency: 8 });
    await waitFor(
      async () => (await rig.inspector.counts('big')).completed === n,
      'the campaign',
      60_000,
    );
    expect(rig.sandbox.accepted.size).toBe(n);
    expect(await redis.exists(rig.queue.toKey('vb:msg'))).toBe(0);
    // BullMQ keeps the newest completed jobs; every message has its record.
    await waitFor(
      async () => (await rig.queue.getJobCounts('completed')).completed === KEEP_COMPLETED_JOBS,
      'completed jobs trimmed',
    );
    const records = await redis.hgetall(rig.queue.toKey('vb:done'));
    expect(Object.keys(records)).toHaveLength(n);
    for (const m of msgs) {
      const rec = JSON.parse(records[String(m.id)] ?? '{}') as FinishedRecord;
      expect({
        id: m.id,
        campaign: rec.campaign,
        message: rec.message,
        msgId: rec.result?.msgId,
      }).toEqual({
        id: m.id,
        campaign: 'big',
        message: m,
        msgId: rig.sandbox.accepted.get(m.id)?.msgId,
      });
      expect(rec.result?.attempts).toBe(1);
    }

    // Results read the records, for messages whose package jobs are gone too.
    const kept = new Set(
      (await rig.queue.getJobs(['completed'])).flatMap((j) =>
        (j.returnvalue as unknown as PackageJobResult).messages.map((m) => m.id),
      ),
    );
    let removedJobs = 0;
    for await (const r of rig.inspector.results('big')) {
      expect({ id: r.id, state: r.state, msgId: r.msgId, phone: r.phone }).toEqual({
        id: r.id,
        state: 'completed',
        msgId: rig.sandbox.accepted.get(r.id)?.msgId,
        phone: msgs[r.id - 1]?.phone,
      });
      if (!kept.has(r.id)) removedJobs++;
    }
    expect(removedJobs).toBe(n - KEEP_COMPLETED_JOBS);

    // A sent id stays taken, job or not: the gateway wants ids unique per account.
    const again = await rig.producer.enqueue('other', [...msgs.slice(0, 1), ...msgs.slice(n - 1)]);
    expect(again).toMatchObject({ enqueued: 0, duplicates: 2 });

    // Purge gives the records back, and the ids.
    expect(await rig.producer.purge('big')).toBe(n);
    expect(await redis.exists(rig.queue.toKey('vb:done'))).toBe(0);
    expect((await rig.producer.enqueue('other', msgs.slice(0, 1))).enqueued).toBe(1);
  });

  it('keeps a record of every failed message and the newest failed jobs only; retry-failed queues them again from their records', async () => {
    const n = KEEP_FAILED_JOBS + 50;
    let refusing = true;
    rig = await createRig('failrecords', { codeFor: () => (refusing ? 203 : undefined) });
    redis = await testRedis();
    const msgs = sampleMessages(n, 1);
    await rig.producer.enqueue('bad', msgs);
    await rig.startWorker({ track: false, batchSize: 1, concurrency: 8 });
    await waitFor(
      async () => (await rig.inspector.counts('bad')).failed === n,
      'the campaign to fail',
      60_000,
    );
    await waitFor(
      async () => (await rig.queue.getJobCounts('failed')).failed === KEEP_FAILED_JOBS,
      'failed jobs trimmed',
    );
    const records = await redis.hgetall(rig.queue.toKey('vb:done'));
    expect(Object.keys(records)).toHaveLength(n);
    const reason = '203 ERR_RECIPIENT: incorrect recipient number';
    for (const m of msgs) {
      const rec = JSON.parse(records[String(m.id)] ?? '{}') as FinishedRecord;
      expect({ id: m.id, message: rec.message, failed: rec.failed, result: rec.result }).toEqual({
        id: m.id,
        message: m,
        failed: { reason, attempts: 1 },
        result: undefined,
      });
    }
    for await (const r of rig.inspector.results('bad')) {
      expect({ id: r.id, state: r.state, error: r.error, code: r.statusCode }).toEqual({
        id: r.id,
        state: 'failed',
        error: reason,
        code: 203,
      });
    }

    // Retried from the records: every message goes back through the dispatcher as a new job.
    refusing = false;
    expect(await rig.producer.retryFailed('bad')).toBe(n);
    await waitFor(
      async () => (await rig.inspector.counts('bad')).completed === n,
      'the retried campaign',
      60_000,
    );
    expect(await rig.queue.getJobCounts('failed')).toEqual({ failed: 0 });
    expect(rig.sandbox.accepted.size).toBe(n);
    for await (const r of rig.inspector.results('bad')) {
      expect({ id: r.id, msgId: r.msgId, attempts: r.attempts, error: r.error }).toEqual({
        id: r.id,
        msgId: rig.sandbox.accepted.get(r.id)?.msgId,
        attempts: 1,
        error: null,
      });
    }
  });
});
