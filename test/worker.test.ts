import { Queue } from 'bullmq';
import { pino } from 'pino';
import { CampaignStore } from '../src/campaign/store.js';
import { Dispatcher } from '../src/dispatch/dispatcher.js';
import type { Fault } from '../src/sandbox/server.js';
import type { HaltReason } from '../src/worker/outcome.js';
import { createRig, type Rig } from './fixture.js';
import {
  jsonLogger,
  messageCounts,
  messages,
  messageView,
  releaseQueued,
  sampleMessages,
  testRedis,
  waitFor,
  waitForSettled,
} from './helpers.js';

/** A sandbox that accepts a re-sent id again: a double send shows in its counts. */
const NO_DEDUPE = { dedupe: false } as const;

describe('the send worker against a misbehaving gateway', () => {
  let rig: Rig;

  afterEach(async () => {
    await rig.close();
  });

  // Campaign counts are written just before BullMQ moves a job: wait for both to agree.
  const allDone = (campaign: string, n: number) =>
    waitFor(async () => {
      const c = await rig.inspector.counts(campaign);
      const q = await messageCounts(rig.queue, 'completed', 'failed');
      return c.completed + c.failed === n && (q['completed'] ?? 0) + (q['failed'] ?? 0) === n
        ? c
        : undefined;
    }, `${n} messages of ${campaign} to finish`);

  /**
   * Every job completed with the msg_id the gateway assigned to its message. "Once" is only
   * checkable where the rig's sandbox runs with `dedupe: false` (NO_DEDUPE): there a message sent
   * twice is accepted twice and `stats.accepted` exceeds n. Where the test needs the gateway's 208
   * (lost answers), the msg_id equality is what carries it: a second acceptance would have
   * recorded another msg_id.
   */
  async function expectAllAcceptedOnce(n: number) {
    const jobs = await messages(rig.queue, ['completed']);
    expect(jobs).toHaveLength(n);
    for (const job of jobs) {
      expect(job.returnvalue.msgId).toBe(rig.sandbox.accepted.get(job.data.message.id)?.msgId);
    }
    expect(rig.sandbox.stats.accepted).toBe(n);
    return jobs;
  }

  it('fails only the messages the gateway rejected, and completes the rest', async () => {
    // A well-formed mobile number the gateway still refuses (203), as a real one may: the producer
    // cannot know, so the worker must fail exactly those messages.
    const refused = '+380661234567';
    rig = await createRig('perm', { codeFor: (m) => (m.phone === refused ? 203 : undefined) });
    const msgs = sampleMessages(100, 1).map((m, i) =>
      i % 10 === 3 ? { ...m, phone: refused } : m,
    );
    await rig.producer.enqueue('c', msgs);
    await rig.startWorker();
    const counts = await allDone('c', 100);
    expect(counts).toMatchObject({ completed: 90, failed: 10, byStatus: { '1': 90, '203': 10 } });
    const failed = await messages(rig.queue, ['failed']);
    expect(failed.map((j) => j.data.message.phone)).toEqual(Array(10).fill(refused));
    for (const j of failed) {
      expect(j.failedReason).toBe('203 ERR_RECIPIENT: incorrect recipient number');
      expect(j.attemptsMade).toBe(1); // permanent: no retries
    }
    expect(await rig.inspector.result(4)).toMatchObject({
      state: 'failed',
      statusCode: 203,
      status: 'ERR_RECIPIENT',
      msgId: null,
      error: '203 ERR_RECIPIENT: incorrect recipient number',
    });
  });

  it('retries a package the gateway answered with HTTP 5xx, and each message is accepted once', async () => {
    rig = await createRig('5xx', NO_DEDUPE);
    rig.sandbox.inject(
      { kind: 'http-error', status: 503 },
      { kind: 'http-error', status: 500 },
      { kind: 'html' },
    );
    await rig.producer.enqueue('c', sampleMessages(20, 1));
    await rig.startWorker();
    await allDone('c', 20);
    const jobs = await expectAllAcceptedOnce(20);
    expect(jobs.every((j) => j.returnvalue.attempts === 1)).toBe(true);
    // The three faults, each answered by a resend; nothing else was sent twice. (20 messages
    // usually make one package; on a loaded machine a batch may close before all 20 are fetched.)
    expect(rig.sandbox.stats.faults).toBe(3);
    expect(rig.sandbox.stats.requests).toBe(3 + rig.sandbox.stats.sendPackages);
    expect(rig.sandbox.stats.sendPackages).toBeLessThanOrEqual(2);
  });

  it.each([
    [
      'the connection drops after the gateway accepted the package',
      { kind: 'lose-answer' as const },
    ],
    ['the answer is truncated', { kind: 'truncate' as const }],
    ['the answer comes after the client gave up', { kind: 'slow-answer' as const, delayMs: 3000 }],
  ])('records the original msg_id when %s (the re-send gets 208)', async (_what, fault) => {
    rig = await createRig('lost');
    rig.sandbox.inject(fault);
    await rig.producer.enqueue('c', sampleMessages(10, 1));
    await rig.startWorker({ gateway: { timeoutMs: 500 } as never });
    await allDone('c', 10);
    const jobs = await expectAllAcceptedOnce(10);
    expect(
      jobs.every((j) => j.returnvalue.recovered === true && j.returnvalue.statusCode === 1),
    ).toBe(true);
    expect(rig.sandbox.stats.duplicates).toBe(10);
    expect(rig.sandbox.stats.statusRequests).toBe(1);
  });

  it('retries a message missing from the answer, and recovers its msg_id', async () => {
    rig = await createRig('omit');
    rig.sandbox.inject({ kind: 'omit-last' });
    await rig.producer.enqueue('c', sampleMessages(5, 1));
    await rig.startWorker({ batchSize: 5, lingerMs: 200 });
    await allDone('c', 5);
    const jobs = await expectAllAcceptedOnce(5);
    const retried = jobs.filter((j) => j.returnvalue.attempts === 2);
    expect(retried.map((j) => j.data.message.id)).toEqual([5]);
    expect(retried[0]?.returnvalue.recovered).toBe(true);
  });

  it('hands a batch back to BullMQ when transport retries run out, and a later attempt sends it', async () => {
    rig = await createRig('attempts', NO_DEDUPE);
    rig.sandbox.inject({ kind: 'reset' }, { kind: 'reset' });
    await rig.producer.enqueue('c', sampleMessages(5, 1));
    await rig.startWorker({ batchSize: 5, lingerMs: 200, gateway: { retries: 1 } as never });
    await allDone('c', 5);
    const jobs = await expectAllAcceptedOnce(5);
    expect(jobs.every((j) => j.returnvalue.attempts === 2)).toBe(true);
  });

  it('backs off on throttling (212) without using an attempt, pausing every worker, then sends', async () => {
    rig = await createRig('throttle', NO_DEDUPE);
    rig.sandbox.inject({ kind: 'package-error', code: 212 }, { kind: 'package-error', code: 212 });
    await rig.producer.enqueue('c', sampleMessages(10, 1));
    const w = await rig.startWorker({ batchSize: 10, lingerMs: 100, throttleMs: 200 });
    const reports: number[] = [];
    w.on('batch', (r) => reports.push(r.throttled));
    const started = Date.now();
    await allDone('c', 10);
    // Paused 200 ms, then 400 ms (doubling while the gateway keeps throttling).
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    const jobs = await expectAllAcceptedOnce(10);
    // BullMQ counts the successful attempt too: 1 means no attempt went to the throttling.
    expect(jobs.every((j) => j.returnvalue.attempts === 1 && j.attemptsMade === 1)).toBe(true);
    expect(reports).toEqual([2]);
    expect(rig.sandbox.stats.requests).toBe(3);
  });

  it('doubles the throttle pause while the gateway keeps answering 212, up to its cap', async () => {
    rig = await createRig('throttlecap', NO_DEDUPE);
    const throttled = { kind: 'package-error', code: 212 } as const;
    rig.sandbox.inject(throttled, throttled, throttled, throttled, throttled);
    await rig.producer.enqueue('c', sampleMessages(10, 1));
    const { logger, lines } = jsonLogger<{ msg?: string; pauseMs?: number }>('warn');
    // The same rule as the defaults (1 s doubling, capped at 60 s), at test scale.
    await rig.startWorker({
      batchSize: 10,
      lingerMs: 50,
      throttleMs: 50,
      throttleMaxMs: 120,
      logger,
    });
    await allDone('c', 10);
    const pauses = lines
      .filter((l) => l.msg?.startsWith('gateway throttled us'))
      .map((l) => l.pauseMs);
    expect(pauses).toEqual([50, 100, 120, 120, 120]);
    await expectAllAcceptedOnce(10);
  });

  it('stops taking work on a bad key (package 202) and leaves every message queued', async () => {
    rig = await createRig('halt', NO_DEDUPE);
    await rig.producer.enqueue('c', sampleMessages(30, 1));
    const bad = await rig.startWorker({ gateway: { apiKey: 'wrong-key' } as never, batchSize: 10 });
    const halted = await new Promise((resolve) => bad.once('halted', resolve));
    expect(halted).toEqual({ level: 'package', code: 202, name: 'ERR_AUTHORIZATION' });
    // A fetch under way when it halted may still bounce one job back: wait for the queue to settle.
    await waitForSettled(async () => {
      const q = await messageCounts(rig.queue, 'wait', 'active', 'failed');
      return (await rig.inspector.counts('c')).waiting === 30 && q['wait'] === 30;
    }, 'all 30 back to waiting');
    expect(await rig.inspector.counts('c')).toMatchObject({
      total: 30,
      waiting: 30,
      active: 0,
      failed: 0,
      completed: 0,
    });
    expect(await messageCounts(rig.queue, 'wait', 'active', 'failed')).toEqual({
      wait: 30,
      active: 0,
      failed: 0,
    });
    await bad.close();
    // With the key fixed, the same messages go out, none of them having used an attempt.
    await rig.startWorker();
    await allDone('c', 30);
    const jobs = await expectAllAcceptedOnce(30);
    expect(jobs.every((j) => j.returnvalue.attempts === 1)).toBe(true);
  });

  it("logs an account problem at pino's error level, its own fields shadowing none of pino's", async () => {
    rig = await createRig('haltlog', NO_DEDUPE);
    await rig.producer.enqueue('c', sampleMessages(5, 1));
    const { logger, lines } = jsonLogger<Record<string, unknown>>('info');
    const w = await rig.startWorker({ gateway: { apiKey: 'wrong-key' } as never, logger });
    // The key is not reachable from the worker's public object.
    expect(JSON.stringify(w.options)).not.toContain('wrong-key');
    expect('apiKey' in w.options.gateway).toBe(false);
    await new Promise((resolve) => w.once('halted', resolve));
    const line = lines.find((l) => String(l['msg']).startsWith('the gateway account cannot send'));
    expect(line).toMatchObject({
      level: 50,
      code: 202,
      status: 'ERR_AUTHORIZATION',
      haltLevel: 'package',
    });
    // Started without a rate: it says so once, and how to set one.
    expect(
      lines.filter((l) => String(l['msg']).startsWith('sending without a rate limit')),
    ).toHaveLength(1);
    // pino's own fields keep pino's types on every line.
    for (const l of lines) {
      expect([typeof l['level'], typeof l['time'], typeof l['msg']]).toEqual([
        'number',
        'number',
        'string',
      ]);
    }
  });

  it('stops, keeping the messages queued, when the gateway URL answers 404 (misconfigured)', async () => {
    rig = await createRig('http404');
    await rig.producer.enqueue('c', sampleMessages(10, 1));
    const w = await rig.startWorker({
      gateway: { url: rig.sandbox.url.replace('xml.php', 'nope.php') } as never,
    });
    expect(await new Promise((resolve) => w.once('halted', resolve))).toEqual({
      level: 'http',
      code: 404,
      name: 'HTTP_404',
    });
    await waitForSettled(async () => {
      const q = await messageCounts(rig.queue, 'wait', 'active');
      return (await rig.inspector.counts('c')).waiting === 10 && q['wait'] === 10;
    }, 'all back to waiting');
    expect(await messageCounts(rig.queue, 'failed', 'active')).toEqual({ failed: 0, active: 0 });
  });

  it.each([408, 429])(
    'retries a package answered HTTP %i in transit, and each message is accepted once',
    async (status) => {
      rig = await createRig(`http${status}`, NO_DEDUPE);
      rig.sandbox.inject({ kind: 'http-error', status });
      await rig.producer.enqueue('c', sampleMessages(10, 1));
      await rig.startWorker({ batchSize: 10, lingerMs: 100 });
      await allDone('c', 10);
      const jobs = await expectAllAcceptedOnce(10);
      // Repeated by the gateway client (p-retry), not by BullMQ: no attempt was used.
      expect(jobs.every((j) => j.attemptsMade === 1)).toBe(true);
      expect(rig.sandbox.stats.requests).toBe(2);
    },
  );

  it.each([
    [
      'package error 205',
      { kind: 'package-error', code: 205 },
      { level: 'package', code: 205, name: 'ERR_USER_DISABLE' },
    ],
    [
      'package error 209',
      { kind: 'package-error', code: 209 },
      { level: 'package', code: 209, name: 'ERR_API_DISABLE' },
    ],
    [
      'package error 210',
      { kind: 'package-error', code: 210 },
      { level: 'package', code: 210, name: 'ERR_IP_DENIED' },
    ],
    [
      'per-message 207',
      { kind: 'message-code', code: 207 },
      { level: 'message', code: 207, name: 'ERR_OVERLIMIT' },
    ],
    [
      'HTTP 401',
      { kind: 'http-error', status: 401 },
      { level: 'http', code: 401, name: 'HTTP_401' },
    ],
    [
      'HTTP 403',
      { kind: 'http-error', status: 403 },
      { level: 'http', code: 403, name: 'HTTP_403' },
    ],
  ] as Array<[string, Fault, HaltReason]>)(
    'halts on %s, keeping every message queued with no attempt used',
    async (_what, fault, reason) => {
      rig = await createRig('halts');
      rig.sandbox.inject(fault);
      await rig.producer.enqueue('c', sampleMessages(10, 1));
      const w = await rig.startWorker({ batchSize: 10, lingerMs: 100 });
      expect(await new Promise((resolve) => w.once('halted', resolve))).toEqual(reason);
      expect(w.halted).toEqual(reason);
      await waitForSettled(async () => {
        const q = await messageCounts(rig.queue, 'wait', 'active');
        return (await rig.inspector.counts('c')).waiting === 10 && q['wait'] === 10;
      }, 'all back to waiting');
      expect(await messageCounts(rig.queue, 'failed', 'active', 'completed')).toEqual({
        failed: 0,
        active: 0,
        completed: 0,
      });
      const jobs = await messages(rig.queue, ['wait']);
      expect(jobs.every((j) => j.attemptsMade === 0)).toBe(true);
    },
  );

  it('halts on a per-message billing error (206), keeping the messages queued', async () => {
    rig = await createRig('billing');
    rig.sandbox.inject({ kind: 'message-code', code: 206 });
    await rig.producer.enqueue('c', sampleMessages(10, 1));
    const w = await rig.startWorker({ batchSize: 10, lingerMs: 100 });
    expect(await new Promise((resolve) => w.once('halted', resolve))).toEqual({
      level: 'message',
      code: 206,
      name: 'ERR_BILLING',
    });
    await waitFor(
      async () => (await rig.inspector.counts('c')).waiting === 10,
      'all back to waiting',
    );
    expect((await rig.inspector.counts('c')).failed).toBe(0);
  });

  it('fails a message whose record was written around the producer with text XML cannot carry, alone, and sends the rest', async () => {
    rig = await createRig('unsafe');
    await rig.producer.enqueue('c', sampleMessages(4, 1));
    await rig.producer.enqueue('c', sampleMessages(1, 99));
    // Its record rewritten behind the producer's back (no validation on that path).
    const bad = { ...sampleMessages(1, 99)[0], text: 'bad\u0000text' };
    const redis = await testRedis();
    await redis.hset(
      rig.queue.toKey('vb:msg'),
      '99',
      JSON.stringify({ campaign: 'c', message: bad }),
    );
    redis.disconnect();
    await rig.startWorker({ batchSize: 5, lingerMs: 200 });
    await waitFor(
      async () => (await messageCounts(rig.queue, 'completed', 'failed')).failed === 1,
      'the bad job to fail',
    );
    await waitFor(
      async () => (await messageCounts(rig.queue, 'completed')).completed === 4,
      'the rest',
    );
    expect((await messageView(rig.queue, 99))?.failedReason).toBe(
      'message 99 text: character U+0000 at position 3 cannot be carried by XML 1.0',
    );
    expect(rig.sandbox.stats.messages).toBe(4);
  });

  it('never sends a job added around the producer: it fails alone, unsent, with its code', async () => {
    rig = await createRig('foreign');
    await rig.producer.enqueue('c', sampleMessages(4, 1));
    const stranger = sampleMessages(1, 777)[0];
    await rig.queue.add('send', { campaign: 'c', message: stranger } as never, { jobId: 'm777' });
    await rig.queue.add('send', { campaign: 'c', message: stranger } as never, {
      jobId: 'free-form',
    });
    await rig.startWorker({ batchSize: 10, lingerMs: 200 });
    await waitFor(async () => {
      const q = await rig.queue.getJobCounts('failed');
      return (await rig.inspector.counts('c')).completed === 4 && q['failed'] === 2;
    }, 'the four to be sent and the two foreign jobs to fail');
    for (const id of ['m777', 'free-form']) {
      expect((await rig.queue.getJob(id))?.failedReason).toMatch(/FOREIGN_JOB/);
    }
    expect(rig.sandbox.accepted.has(777)).toBe(false);
    expect(rig.sandbox.stats.messages).toBe(4);
    // Nothing of ours counted them.
    expect(await rig.inspector.counts('c')).toMatchObject({ total: 4, completed: 4, failed: 0 });
  });

  it('ends a package job whose messages already ended as their records say, sending and counting nothing again (a job back after a crash between the settle step and BullMQ)', async () => {
    rig = await createRig('ended');
    await rig.producer.enqueue('c', sampleMessages(2, 1));
    await rig.startWorker({ batchSize: 2, lingerMs: 50 });
    const before = await allDone('c', 2);
    const first = await messageView(rig.queue, 1);
    const msgId = first?.returnvalue.msgId;
    // Its package's job runs again, as a stalled one would.
    const [pkg] = await rig.queue.getJobs(['completed']);
    const finishedOn = pkg?.finishedOn;
    await pkg?.retry('completed');
    await waitFor(async () => {
      const again = await rig.queue.getJob(pkg?.id ?? '');
      return again?.finishedOn !== undefined && again.finishedOn !== finishedOn;
    }, 'the package job to end again');
    expect((await messageView(rig.queue, 1))?.returnvalue.msgId).toBe(msgId);
    expect(rig.sandbox.stats.messages).toBe(2);
    expect(await rig.inspector.counts('c')).toMatchObject({
      completed: before.completed,
      failed: 0,
    });
  });

  it('fails a message whose stored record cannot be read, alone, with its own reason; the rest of its package is sent', async () => {
    rig = await createRig('badrecord');
    await rig.producer.enqueue('c', sampleMessages(5, 1));
    // Released, then its record damaged: the worker sends from the record, not the job.
    expect(await releaseQueued(rig.queue)).toMatchObject({ released: 5 });
    const redis = await testRedis();
    await redis.hset(rig.queue.toKey('vb:msg'), '3', '{"campaign":"c","message":{"id":3,');
    redis.disconnect();
    await rig.startWorker({ batchSize: 5, lingerMs: 200 });
    const counts = await allDone('c', 5);
    expect(counts).toMatchObject({ completed: 4, failed: 1 });
    expect(rig.sandbox.accepted.has(3)).toBe(false);
    expect(rig.sandbox.stats.messages).toBe(4);
    expect(await rig.inspector.result(3)).toMatchObject({
      state: 'failed',
      error: 'message 3: its stored record cannot be read (RECORD_UNREADABLE)',
    });
  });

  it('splits a package the gateway could not read (201) to send the rest', async () => {
    rig = await createRig('bisect', NO_DEDUPE);
    rig.sandbox.inject({ kind: 'package-error', code: 201 });
    await rig.producer.enqueue('c', sampleMessages(8, 1));
    await rig.startWorker({ batchSize: 8, lingerMs: 200 });
    await allDone('c', 8);
    await expectAllAcceptedOnce(8);
    expect(rig.sandbox.stats.requests).toBe(3); // the refused package, then each half
  });

  it('splits a package of 50 that the gateway refuses whole (201) until the one bad message is alone and fails; the other 49 are sent', async () => {
    rig = await createRig('bisect50', { dedupe: false, unreadable: (m) => m.text === 'BAD' });
    await rig.producer.enqueue(
      'c',
      sampleMessages(50, 1).map((m) => (m.id === 37 ? { ...m, text: 'BAD' } : m)),
    );
    await rig.startWorker({ batchSize: 50, lingerMs: 300 });
    const counts = await allDone('c', 50);
    expect(counts).toMatchObject({ completed: 49, failed: 1 });
    await expectAllAcceptedOnce(49);
    expect(rig.sandbox.accepted.has(37)).toBe(false);
    const [bad] = await messages(rig.queue, ['failed']);
    expect(bad?.data.message.id).toBe(37);
    expect(bad?.failedReason).toMatch(/201/);
    // The whole package, then two halves at each of the six halvings that isolate message 37
    // (50 → 25 → 13 → 6 → 3 → 2 → 1; one half of each pair goes through): 13 requests, not 50.
    expect(rig.sandbox.stats.requests).toBe(13);
  });

  it('keeps a shared rate limit across two workers: no more than the limit in any one-second window', async () => {
    rig = await createRig('rate');
    await rig.producer.enqueue('c', sampleMessages(250, 1));
    await rig.startWorker({ rate: 100, batchSize: 20 });
    await rig.startWorker({ rate: 100, batchSize: 20 });
    await allDone('c', 250);
    const t = rig.sandbox.arrivals;
    let worst = 0;
    for (let i = 0, j = 0; i < t.length; i++) {
      while ((t[i] as number) - (t[j] as number) >= 1000) j++;
      worst = Math.max(worst, i - j + 1);
    }
    // Arrival times at the gateway add network jitter to the limiter's own clock: allow one batch.
    expect(worst).toBeLessThanOrEqual(100 + 20);
    expect((t[t.length - 1] as number) - (t[0] as number)).toBeGreaterThanOrEqual(2000);
  });

  it('adds again, on its next call, the package jobs an add failed for (Redis away or out of memory)', async () => {
    rig = await createRig('readd');
    await rig.producer.enqueue('c', sampleMessages(7, 1));
    const redis = await testRedis();
    // A real queue whose first add is refused, as Redis refuses it when out of memory: the
    // script that made the package had run.
    class RefusingOnce extends Queue {
      refused = 0;
      override async addBulk(jobs: Parameters<Queue['addBulk']>[0]) {
        if (this.refused++ === 0)
          throw new Error("OOM command not allowed when used memory > 'maxmemory'.");
        return super.addBulk(jobs);
      }
    }
    const q = new RefusingOnce(rig.queueName, { connection: redis, prefix: rig.queue.opts.prefix });
    try {
      const store = new CampaignStore(redis, rig.queue.toKey(''));
      const opts = { ahead: 100, intervalMs: 100, packageSize: 50, sweep: 100, lingerMs: 0 };
      const silent = pino({ level: 'silent' });
      const d = new Dispatcher(redis, store, q, { ...opts, reapAfterMs: 60_000 }, silent);
      await expect(d.dispatchOnce()).rejects.toThrow(/^OOM /);
      expect(await store.packages.existing(['p1'])).toBe(1);
      expect(await rig.queue.getJobState('p1')).toBe('unknown');
      // Nothing more to package: the call adds what the last one could not.
      expect(await d.dispatchOnce()).toMatchObject({ released: 0, packages: 0 });
      expect(await rig.queue.getJobState('p1')).toBe('waiting');
    } finally {
      await q.close();
      redis.disconnect();
    }
    await rig.startWorker();
    await waitFor(async () => (await rig.inspector.counts('c')).completed === 7, 'the seven sent');
    expect([...rig.sandbox.accepted.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('strands no message whose package lost its job (a worker killed between making a package and adding its job): the reaper queues it again', async () => {
    rig = await createRig('reap');
    await rig.producer.enqueue('c', sampleMessages(7, 1));
    expect(await releaseQueued(rig.queue)).toMatchObject({ released: 7 });
    const [job] = await rig.queue.getJobs(['wait']);
    // The job goes, its package stays: as if the process died before Queue.addBulk.
    expect(await rig.queue.remove(job?.id ?? '')).toBe(1);
    const redis = await testRedis();
    const q = new Queue(rig.queueName, { connection: redis, prefix: rig.queue.opts.prefix });
    try {
      const store = new CampaignStore(redis, rig.queue.toKey(''));
      const opts = { ahead: 100, intervalMs: 100, packageSize: 50, sweep: 100, lingerMs: 0 };
      const silent = pino({ level: 'silent' });
      // Younger than its grace: left alone (its job may be on its way).
      const patient = new Dispatcher(redis, store, q, { ...opts, reapAfterMs: 60_000 }, silent);
      expect(await patient.reap()).toBe(0);
      const reaper = new Dispatcher(redis, store, q, { ...opts, reapAfterMs: 0 }, silent);
      expect(await reaper.reap(Date.now() + 1000)).toBe(7);
      expect(await redis.llen(rig.queue.toKey('vb:bl:c'))).toBe(7);
    } finally {
      await q.close();
      redis.disconnect();
    }
    await rig.startWorker();
    const c = await waitFor(async () => {
      const x = await rig.inspector.counts('c');
      return x.completed === 7 ? x : undefined;
    }, 'the seven to be sent');
    expect(c).toMatchObject({ completed: 7, waiting: 0, active: 0 });
    expect([...rig.sandbox.accepted.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});
