/**
 * Signed webhooks: every change of a message's outcome, and each campaign's end, reaches the
 * endpoint at least once, signed; the outbox holds events through failures, and what it gives up
 * is kept for `viber-bulk webhooks --failed`.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { fateOf, type DeliverySimulation } from '../src/sandbox/delivery.js';
import fc from 'fast-check';
import { expand } from '../src/commands/index.js';
import { QueueKeys } from '../src/keys.js';
import { eventsOf, type WebhookEvent } from '../src/webhook/event.js';
import { Outbox } from '../src/webhook/outbox.js';
import { encodeInfo, startInfo } from '../src/tracking/delivery.js';
import { recordGroup } from '../src/tracking/tracker.js';
import type { SendWorkerOptions } from '../src/worker/options.js';
import { runCli } from './cli-run.js';
import { killAllCliWorkers, startCliWorker } from './cli-worker.js';
import { createRig, type Rig } from './fixture.js';
import { jsonLogger, sampleMessages, testRedis, waitFor } from './helpers.js';
import { startReceiver, type Receiver } from './webhook-receiver.js';

const SECRET = 'whsec_' + Buffer.from('a test signing key of 32 bytes..').toString('base64');

const SIM: DeliverySimulation = {
  delayMs: [50, 300],
  outcomes: { 102: 0.7, 105: 0.15, 103: 0.15 },
  readShare: 0.5,
  readDelayMs: [50, 200],
  seed: 7,
};

/** Fast tracking and fast webhook retries, for tests. */
const FAST: Partial<SendWorkerOptions> = {
  trackAfterMs: 100,
  trackMaxIntervalMs: 200,
  readWindowMs: 2000,
  trackForMs: 20_000,
};

/** The events a message must have had, from the gateway's own record (the sandbox) and fate. */
function expectedOf(rig: Rig, sim: DeliverySimulation): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const a of rig.sandbox.accepted.values()) {
    const f = fateOf(a.id, a.at, sim);
    const types = ['message.accepted'];
    if (f.finalCode === 102) types.push('message.delivered');
    else types.push('message.undelivered');
    if (f.readAt !== undefined) types.push('message.read');
    out.set(a.id, types.sort());
  }
  return out;
}

/** Each message's event types, each once (duplicates are allowed by at-least-once). */
function typesById(events: readonly WebhookEvent[]): Map<number, string[]> {
  const seen = new Map<number, Set<string>>();
  for (const e of events) {
    if (e.messageId === undefined) continue;
    const s = seen.get(e.messageId) ?? new Set<string>();
    s.add(e.type);
    seen.set(e.messageId, s);
  }
  return new Map([...seen].map(([id, s]) => [id, [...s].sort()]));
}

describe('webhooks', () => {
  let rig: Rig;
  let receiver: Receiver | undefined;
  afterEach(async () => {
    killAllCliWorkers();
    await receiver?.close();
    receiver = undefined;
    await rig.close();
  });

  it('tells of every outcome, each event signed and shaped as documented', async () => {
    rig = await createRig('whshape', {
      delivery: SIM,
      codeFor: (m) => (Number(m.id) % 10 === 3 ? 203 : undefined),
    });
    receiver = await startReceiver({ secret: SECRET });
    const w = await rig.startWorker({
      ...FAST,
      webhook: { url: receiver.url, secret: SECRET, flushMs: 50 },
    });
    await rig.producer.suppressions().then((s) => s.add(['+380971000003']));
    await rig.producer.enqueue('c', sampleMessages(40, 1));
    const expected = await waitFor(
      async () => {
        const c = await rig.inspector.counts('c');
        if (c.delivery.tracking > 0 || c.completed + c.failed + c.suppressed < 40) return undefined;
        const want = expectedOf(rig, SIM);
        const got = typesById(receiver!.events);
        return [...want].every(([id, t]) => got.get(id)?.join() === t.join()) ? want : undefined;
      },
      'every accepted message to have its delivery events',
      30_000,
      100,
    );
    const got = typesById(receiver.events);
    for (const [id, types] of expected) expect(got.get(id)).toEqual(types);
    // Refused by the gateway (203): message.failed with the code and the reason results show.
    const failed = receiver.events.filter((e) => e.type === 'message.failed');
    expect(failed.map((e) => e.messageId).sort((a, b) => a! - b!)).toEqual([3, 13, 23, 33]);
    const result = await rig.inspector.result(13);
    expect(failed.find((e) => e.messageId === 13)).toMatchObject({
      campaign: 'c',
      code: 203,
      reason: result?.error,
    });
    // Suppressed before enqueue (its phone is message 4's).
    expect(receiver.events.filter((e) => e.type === 'message.suppressed')).toMatchObject([
      { campaign: 'c', messageId: 4 },
    ]);
    // accepted carries the gateway's msg_id, and so does each delivery event.
    for (const e of receiver.events.filter((x) => x.messageId !== undefined)) {
      const a = rig.sandbox.accepted.get(e.messageId!);
      if (e.type === 'message.failed' || e.type === 'message.suppressed') {
        expect(e.msgId).toBeUndefined();
        continue;
      }
      expect(e.msgId).toBe(a?.msgId);
      expect(Object.keys(e)).toEqual(
        ['id', 'type', 'campaign', 'messageId', 'msgId', 'code', 'at'].filter((k) => k in e),
      );
      expect(new Date(e.at).toISOString()).toBe(e.at);
      if (e.type !== 'message.accepted') expect(typeof e.code).toBe('number');
    }
    const read = receiver.events.find((e) => e.type === 'message.read');
    expect(read?.code).toBe(116);
    // One campaign.finished, with the counts, once nothing was queued or in flight.
    const finished = receiver.events.filter((e) => e.type === 'campaign.finished');
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({
      campaign: 'c',
      counts: { total: 40, completed: 35, failed: 4, suppressed: 1, cancelled: 0, expired: 0 },
    });
    expect(new Set(receiver.events.map((e) => e.id)).size).toBe(receiver.events.length);
    expect(receiver.unsigned).toBe(0);
    await w.close();
  });

  it('delivers every outcome at least once, signed, through 500s to a fifth of requests and a worker killed -9', async () => {
    rig = await createRig('whkill', { delivery: SIM, latencyMs: 10 });
    // a's requests wait from the start: a is killed holding events it took and never settled.
    let open = () => {};
    let gate: Promise<void> | undefined = new Promise<void>((resolve) => (open = resolve));
    receiver = await startReceiver({
      secret: SECRET,
      answer: (n) => (n % 5 === 0 ? 500 : 200),
      hold: (path) => (path.endsWith('&from=a') ? gate : undefined),
    });
    const args = [
      '--rate',
      '150',
      '--track-after-ms',
      '100',
      '--track-max-interval-ms',
      '200',
      '--read-window-ms',
      '2000',
      '--webhook-timeout-ms',
      '1000',
      // The killed worker's packages come back within seconds.
      '--timeout-ms',
      '1000',
      '--lock-duration-ms',
      '3000',
      '--stalled-interval-ms',
      '1000',
    ];
    // One endpoint; each worker names itself in the query, so that the receiver can hold a's.
    const env = (from: string) => ({
      WEBHOOK_URL: `${receiver!.url}&from=${from}`,
      WEBHOOK_SECRET: SECRET,
    });
    const a = startCliWorker(rig, args, undefined, env('a'));
    const b = startCliWorker(rig, args, undefined, env('b'));
    await rig.producer.enqueue('c', sampleMessages(300, 1));
    await waitFor(
      () => receiver!.events.filter((e) => e.type === 'message.accepted').length >= 60 || undefined,
      'some events to arrive',
      30_000,
      20,
    );
    await waitFor(() => receiver!.pending >= 1 || undefined, "a request of a's", 30_000, 5);
    a.child.kill('SIGKILL');
    await a.exited();
    gate = undefined;
    open();
    const got = await waitFor(
      async () => {
        const c = await rig.inspector.counts('c');
        if (c.completed < 300 || c.delivery.tracking > 0) return undefined;
        const want = expectedOf(rig, SIM);
        const have = typesById(receiver!.events);
        const all = [...want].every(([id, t]) => have.get(id)?.join() === t.join());
        const finished = receiver!.events.some((e) => e.type === 'campaign.finished');
        return all && finished ? have : undefined;
      },
      'every message to have all its events',
      60_000,
      200,
    );
    expect(got.size).toBe(300);
    expect(receiver.answered.get(500) ?? 0).toBeGreaterThan(0);
    expect(receiver.unsigned).toBe(0);
    for (const w of [a, b]) expect(w.logs()).not.toContain(SECRET.slice(6));
    for (const w of [a, b]) expect(w.logs()).not.toContain('t0ken');
    b.child.kill('SIGTERM');
    expect((await b.exited()).code).toBe(0);
  });

  it('stops at a 410 until `webhooks --enable`, then delivers what it held', async () => {
    rig = await createRig('wh410');
    let gone = true;
    const secret = 'a plain-text secret, ü included';
    receiver = await startReceiver({ secret, answer: () => (gone ? 410 : 200) });
    const { logger, lines } = jsonLogger<{ msg: string }>('info');
    await rig.startWorker({
      track: false,
      logger,
      webhook: { url: receiver.url, secret, flushMs: 50 },
    });
    await rig.producer.enqueue('c', sampleMessages(5, 1));
    const env = { VIBER_QUEUE: rig.queueName };
    await waitFor(
      async () => JSON.parse((await runCli(['webhooks', '--json'], env)).stdout).gone,
      'the endpoint to be marked gone',
      10_000,
      100,
    );
    expect(lines.filter((l) => /410 Gone/.test(l.msg))).toHaveLength(1);
    const asked = receiver.answered.get(410);
    await new Promise((r) => setTimeout(r, 600));
    expect(receiver.answered.get(410)).toBe(asked); // nothing more is sent while gone
    gone = false;
    const enabled = await runCli(['webhooks', '--enable'], env);
    expect(enabled.stdout).toMatch(/endpoint taken back/);
    await waitFor(
      () => receiver!.events.filter((e) => e.type === 'message.accepted').length === 5 || undefined,
      'the held events after --enable',
      15_000,
      100,
    );
    expect(receiver.unsigned).toBe(0);
    expect(JSON.stringify(lines)).not.toContain(secret);
  });

  it('gives an event up after retryForMs of failures, keeps it for `webhooks --failed`, and sends it again on --resend', async () => {
    rig = await createRig('whdead');
    let failing = true;
    receiver = await startReceiver({ secret: SECRET, answer: () => (failing ? 500 : 200) });
    const { logger, lines } = jsonLogger<{ msg: string; events?: number }>('info');
    await rig.startWorker({
      track: false,
      logger,
      webhook: {
        url: receiver.url,
        secret: SECRET,
        flushMs: 50,
        retryForMs: 300,
        retryDelayMs: 20,
        retryMaxDelayMs: 50,
      },
    });
    await rig.producer.enqueue('c', sampleMessages(5, 1));
    const env = { VIBER_QUEUE: rig.queueName };
    // 5 accepted and the campaign's end.
    await waitFor(
      async () =>
        JSON.parse((await runCli(['webhooks', '--json'], env)).stdout).failed === 6 || undefined,
      'six events to be given up',
      15_000,
      100,
    );
    const listed = JSON.parse(
      (await runCli(['webhooks', '--failed', '--json'], env)).stdout,
    ) as Array<{
      event: WebhookEvent;
      tries: number;
      lastError: string;
    }>;
    expect(listed.map((f) => f.event.type).sort()).toEqual([
      'campaign.finished',
      ...Array(5).fill('message.accepted'),
    ]);
    for (const f of listed) {
      expect(f.tries).toBeGreaterThanOrEqual(2);
      expect(f.lastError).toBe('HTTP 500');
    }
    expect(lines.some((l) => l.msg.startsWith('webhook events given up'))).toBe(true);
    expect(receiver.events).toHaveLength(0);
    failing = false;
    expect((await runCli(['webhooks', '--resend'], env)).stdout).toMatch(/^6 events are due again/);
    await waitFor(() => receiver!.events.length === 6 || undefined, 'the resent events', 10_000);
    expect(receiver.events.map((e) => e.id).sort()).toEqual(listed.map((f) => f.event.id).sort());
    const after = JSON.parse((await runCli(['webhooks', '--json'], env)).stdout);
    expect(after).toMatchObject({ on: true, queued: 0, failed: 0, dropped: 0 });
  });

  it('never slows sending: an endpoint that refuses connections fills the outbox to its limit, then drops, counts and warns', async () => {
    rig = await createRig('whfull');
    const closed = await startReceiver({ secret: SECRET });
    const url = closed.url;
    await closed.close(); // nothing listens there now: connections are refused
    const { logger, lines } = jsonLogger<{ msg: string; dropped?: number }>('info');
    const w = await rig.startWorker({
      track: false,
      logger,
      webhook: { url, secret: SECRET, outboxLimit: 5, flushMs: 50 },
    });
    const { WorkerMetrics } = await import('../src/worker/metrics.js');
    const m = new WorkerMetrics(w);
    await rig.producer.enqueue('c', sampleMessages(40, 1));
    await waitFor(
      async () => ((await rig.inspector.counts('c')).completed === 40 ? true : undefined),
      'the campaign to be sent',
      15_000,
    );
    const stats = await w.webhooks!.stats();
    // 40 accepted and the campaign's end: 5 held, the rest dropped.
    expect(stats).toMatchObject({ on: true, queued: 5, dropped: 36 });
    await waitFor(
      () => lines.find((l) => l.msg.startsWith('webhook outbox is full')),
      'the outbox-full warning',
      10_000,
    );
    try {
      const text = await m.text();
      expect(text).toMatch(/^viber_bulk_webhook_events_dropped 36$/m);
      expect(text).toMatch(/^viber_bulk_webhook_outbox_events\{state="queued"\} 5$/m);
      expect(text).toMatch(/^viber_bulk_webhook_requests_total\{result="connection"\} [1-9]/m);
    } finally {
      await m.close();
    }
  });

  it('tells of cancelled, expired and suppressed-after-enqueue messages', async () => {
    rig = await createRig('whends');
    receiver = await startReceiver({ secret: SECRET });
    const webhook = { url: receiver.url, secret: SECRET, flushMs: 50 };
    // The outbox is on once a worker with a webhook has started; this one stops at once.
    await (await rig.startWorker({ track: false, webhook })).close();
    rig.workers.length = 0;
    await rig.producer.enqueue('x', sampleMessages(3, 1));
    await rig.producer.cancel('x');
    await rig.producer.enqueue('e', sampleMessages(3, 11), {
      expires: new Date(Date.now() + 300),
    });
    await rig.producer.enqueue('s', sampleMessages(2, 21));
    await rig.producer.suppressions().then((l) => l.add(['+380971000000'])); // message 21's phone
    await new Promise((r) => setTimeout(r, 400));
    await rig.startWorker({ track: false, webhook });
    const of = (c: string) => receiver!.events.filter((e) => e.campaign === c);
    await waitFor(
      () => (of('x').length === 4 && of('e').length === 4 && of('s').length === 3) || undefined,
      'the events of the three campaigns',
      15_000,
      100,
    );
    expect(
      of('x')
        .map((e) => `${e.type}:${e.messageId ?? ''}`)
        .sort(),
    ).toEqual([
      'campaign.finished:',
      'message.cancelled:1',
      'message.cancelled:2',
      'message.cancelled:3',
    ]);
    expect(
      of('e')
        .map((e) => `${e.type}:${e.messageId ?? ''}`)
        .sort(),
    ).toEqual([
      'campaign.finished:',
      'message.expired:11',
      'message.expired:12',
      'message.expired:13',
    ]);
    expect(
      of('s')
        .map((e) => `${e.type}:${e.messageId ?? ''}`)
        .sort(),
    ).toEqual(['campaign.finished:', 'message.accepted:22', 'message.suppressed:21']);
    expect(rig.sandbox.accepted.has(21)).toBe(false);
  });

  it('tells of a message tracking gave up on, and of a READ seen first as delivered and read, with the msg_id whole', async () => {
    rig = await createRig('whtrack');
    const redis = await testRedis();
    try {
      const keys = new QueueKeys(rig.queue.toKey(''));
      const outbox = new Outbox(redis, keys);
      await outbox.turnOn(100);
      // A msg_id past 2^32 and Lua's 14 significant digits: copied as digits, never as a number.
      const msgId = 987_654_321_098_765;
      const record = JSON.stringify({
        campaign: 'c',
        message: { id: 5, phone: '+380971234567' },
        package: 'p1',
        result: { msgId, sentAt: '2026-12-07T00:00:00.000Z', attempts: 1 },
      });
      // Both accepted a day ago; 5 is past the tracking horizon with no answer, 6 answers READ.
      const now = Date.now();
      const raw = encodeInfo(startInfo('c', now - 86_400_000));
      const opts = {
        trackAfterMs: 60_000,
        trackMaxIntervalMs: 1_800_000,
        trackForMs: 3_600_000,
        readWindowMs: 86_400_000,
      };
      for (const id of ['5', '6']) {
        await redis.hset(keys.trackInfo, id, raw);
        await redis.hset(keys.done, id, record);
      }
      const read = { id: 6, smsId: msgId, code: 116, smsCount: 1, dateCompleted: undefined };
      const r = redis as typeof redis & { vbTrackRecord(...a: unknown[]): Promise<number> };
      await r.vbTrackRecord(
        keys.track,
        keys.trackInfo,
        keys.done,
        ...keys.outbox,
        keys.queued,
        keys.ready,
        keys.control,
        keys.base,
        ...recordGroup({ id: 5, raw }, undefined, record, now, opts).group,
        ...recordGroup({ id: 6, raw }, read, record, now, opts).group,
      );
      const held = await outbox.claim(10, 1000);
      const events = eventsOf(held!.body);
      expect(events.map((e) => [e.type, e.messageId, e.msgId, e.code])).toEqual([
        ['message.unknown', 5, msgId, undefined],
        ['message.delivered', 6, msgId, 116],
        ['message.read', 6, msgId, 116],
      ]);
    } finally {
      await redis.quit();
    }
  });
});

describe('webhook event times', () => {
  it('are written by the scripts as Date#toISOString writes them (the oracle: JavaScript)', async () => {
    const redis = await testRedis();
    try {
      const lua = expand('--- @include "includes/outbox"\nreturn isoOf(ARGV[1])', 'test');
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 253_402_300_799_999 }), async (ms) => {
          expect(await redis.eval(lua, 0, ms)).toBe(new Date(ms).toISOString());
        }),
        { numRuns: 300 },
      );
      for (const at of [
        '2024-02-29T23:59:59.999Z',
        '2100-03-01T00:00:00.000Z',
        '1970-01-01T00:00:00.000Z',
      ]) {
        expect(await redis.eval(lua, 0, Date.parse(at))).toBe(at);
      }
    } finally {
      await redis.quit();
    }
  });
});
