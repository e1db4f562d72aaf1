/**
 * Viber → SMS fallback against real Redis and the sandbox gateway, whose phones ending in 0 have
 * no Viber (its documented rule, `phoneWithoutViber`): a Viber message to one ends 105
 * UNDELIVERABLE. The oracle is the sandbox's record of what it accepted, Viber and SMS.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { phoneWithoutViber, type AcceptedMessage } from '../src/sandbox/server.js';
import { FALLBACK_ID_BASE } from '../src/fallback.js';
import type { SendWorkerOptions } from '../src/worker/options.js';
import type { WebhookEvent } from '../src/webhook/event.js';
import { createRig, type Rig } from './fixture.js';
import { sampleMessages, TEST_REDIS, testRedis, waitFor } from './helpers.js';
import { launchChromium } from './chromium.js';
import { startDashboard } from '../src/dashboard/server.js';
import { WorkerMetrics } from '../src/worker/metrics.js';
import { runCli } from './cli-run.js';
import { startReceiver, type Receiver } from './webhook-receiver.js';

const FAST: Partial<SendWorkerOptions> = {
  trackAfterMs: 100,
  trackMaxIntervalMs: 200,
  readWindowMs: 0,
  trackForMs: 20_000,
};

/** A fallback text XML and SMS encodings must carry exactly: Cyrillic, an emoji, `<&>`. */
const SMS_TEXT = 'Привіт! Viber не дійшов 📵 — ось SMS <&> "лапки"';

/** The ids of sampleMessages(20, first) whose phones have no Viber, with their campaign. */
const noViberIds = (campaign: string, first: number): Array<[string, number]> =>
  sampleMessages(20, first)
    .filter((m) => phoneWithoutViber(m.phone))
    .map((m) => [campaign, m.id]);

const ofKind = (rig: Rig, kind: 'viber' | 'sms'): AcceptedMessage[] =>
  [...rig.sandbox.accepted.values()].filter((a) => a.kind === kind);

const SECRET = 'whsec_' + Buffer.from('fallback-test-secret-32-bytes!!!').toString('base64');

describe('SMS fallback', () => {
  let rig: Rig;
  let receiver: Receiver | undefined;
  afterEach(async () => {
    await rig.close();
    await receiver?.close();
    receiver = undefined;
  });

  /** Until the campaign's and its SMS' tracking is over, with `sms` SMS sent. */
  const allTracked = (campaign: string, sms: number) =>
    waitFor(
      async () => {
        const c = await rig.inspector.counts(campaign);
        const s = c.sms;
        return c.completed === c.total &&
          c.delivery.tracking === 0 &&
          s.sent === sms &&
          s.tracking === 0
          ? { c, s }
          : undefined;
      },
      `${campaign} and its SMS to be tracked to the end`,
      30_000,
      100,
    );

  it('sends a tenth of a campaign, the phones without Viber, by SMS: once each, with the exact text', async () => {
    rig = await createRig('fb', { withoutViber: phoneWithoutViber });
    receiver = await startReceiver({ secret: SECRET });
    const messages = sampleMessages(100, 1, { smsText: SMS_TEXT, smsSender: 'ShopSMS' });
    await rig.producer.enqueue('c', messages);
    // A long read window: Viber messages delivered are watched for a read, an SMS never is.
    const worker = await rig.startWorker({
      ...FAST,
      readWindowMs: 120_000,
      webhook: { url: receiver.url, secret: SECRET, flushMs: 50 },
    });
    const metrics = new WorkerMetrics(worker);
    const { c, s } = await waitFor(
      async () => {
        const c = await rig.inspector.counts('c');
        return c.completed === 100 &&
          c.delivery.undelivered === 10 &&
          c.sms.sent === 10 &&
          c.sms.tracking === 0
          ? { c, s: c.sms }
          : undefined;
      },
      'the SMS to be delivered',
      30_000,
    );
    const noViber = messages.filter((m) => phoneWithoutViber(m.phone));
    expect(noViber).toHaveLength(10);
    // The gateway took every Viber message once, and one SMS for each phone without Viber.
    expect(rig.sandbox.stats.accepted).toBe(110);
    expect(ofKind(rig, 'viber')).toHaveLength(100);
    const sms = ofKind(rig, 'sms').sort((a, b) => a.id - b.id);
    expect(sms.map((a) => ({ id: a.id, sms: a.sms }))).toEqual(
      noViber.map((m) => ({
        id: FALLBACK_ID_BASE + m.id,
        sms: {
          id: String(FALLBACK_ID_BASE + m.id),
          recipient: m.phone,
          sender: 'ShopSMS',
          type: '0',
          text: SMS_TEXT,
        },
      })),
    );
    expect(c.delivery).toMatchObject({
      delivered: 90,
      undelivered: 10,
      byStatus: { '102': 90, '105': 10 },
    });
    expect(s).toEqual({
      total: 10,
      waiting: 0,
      paused: 0,
      sent: 10,
      failed: 0,
      unsent: 0,
      tracking: 0,
      delivered: 10,
      undelivered: 0,
      unknown: 0,
      byStatus: { '102': 10 },
    });
    // Metrics: the fallbacks made, sent and delivered (a subset of the messages' series).
    // (The worker counts an answer just after its script returns: waited for, not raced.)
    const delivered = 'viber_bulk_sms_delivery_total{status="delivered"} 10\n';
    const text = await waitFor(async () => {
      const t = await metrics.text();
      return t.includes(delivered) ? t : undefined;
    }, 'the SMS deliveries counted').finally(() => metrics.close());
    expect(text).toContain('viber_bulk_sms_fallbacks_total 10\n');
    expect(text).toContain('viber_bulk_sms_messages_total{outcome="completed"} 10\n');
    expect(text).toContain('viber_bulk_messages_total{outcome="completed"} 110\n');
    // results: each message with its SMS, the ones without Viber with the gateway's SMS id.
    const rows = [];
    for await (const r of rig.inspector.results('c')) rows.push(r);
    expect(rows).toHaveLength(100);
    for (const r of rows) {
      const accepted = rig.sandbox.accepted.get(FALLBACK_ID_BASE + r.id);
      expect({ id: r.id, sms: r.sms }).toEqual({
        id: r.id,
        sms: accepted
          ? {
              msgId: accepted.msgId,
              state: 'completed',
              statusCode: 1,
              error: null,
              deliveryCode: 102,
              delivery: 'DELIVERED',
              deliveredAt: expect.stringMatching(/Z$/),
            }
          : null,
      });
      expect(r.delivery).toBe(accepted ? 'UNDELIVERABLE' : 'DELIVERED');
    }
    // Looked up by its SMS's id, a message is found with its SMS.
    const first = noViber[0]!.id;
    expect(await rig.inspector.result(FALLBACK_ID_BASE + first)).toEqual(
      rows.find((r) => r.id === first),
    );
    // Webhooks: each fallback told as its message's, with the SMS's own msg_id.
    const ids = new Set(noViber.map((m) => m.id));
    const sent = await waitFor(() => {
      const got = receiver!.events.filter((e) => e.type.startsWith('message.sms_'));
      return new Set(got.map((e) => `${e.type} ${e.messageId}`)).size === 20 ? got : undefined;
    }, 'the SMS events');
    const one = (e: WebhookEvent) => ({
      type: e.type,
      campaign: e.campaign,
      id: e.messageId,
      msgId: e.msgId,
    });
    const want = [...ids].flatMap((id) => {
      const msgId = rig.sandbox.accepted.get(FALLBACK_ID_BASE + id)?.msgId;
      return [
        { type: 'message.sms_accepted', campaign: 'c', id, msgId },
        { type: 'message.sms_delivered', campaign: 'c', id, msgId },
      ];
    });
    const key = (e: { type: string; id?: number }) => `${e.id} ${e.type}`;
    const sort = <T extends { type: string; id?: number }>(l: T[]) =>
      [...new Map(l.map((e) => [key(e), e])).values()].sort((a, b) => (key(a) < key(b) ? -1 : 1));
    expect(sort(sent.map(one))).toEqual(sort(want));
    // No campaign.finished for the companion, no event under its name.
    expect(receiver.events.filter((e) => e.campaign !== 'c')).toEqual([]);
  });

  it('sends no fallback of a cancelled campaign, nor past its deadline: they end unsent, told, and purged with their campaign', async () => {
    rig = await createRig('fbcancel', { withoutViber: phoneWithoutViber });
    receiver = await startReceiver({ secret: SECRET });
    const deadline = new Date(Date.now() + 1500);
    await rig.producer.enqueue('x', sampleMessages(20, 1, { smsText: 'SMS' }));
    await rig.producer.enqueue('e', sampleMessages(20, 101, { smsText: 'SMS' }), {
      expires: deadline,
    });
    // Tracking asks first 2.5 s after acceptance: x is cancelled, e past its deadline by then.
    await rig.startWorker({
      ...FAST,
      trackAfterMs: 2500,
      webhook: { url: receiver.url, secret: SECRET, flushMs: 50 },
    });
    await waitFor(
      async () => ((await rig.inspector.counts('x')).completed === 20 ? true : undefined),
      'x to be sent',
    );
    await rig.producer.cancel('x');
    for (const [campaign, how] of [
      ['x', 'cancelled'],
      ['e', 'expired'],
    ] as const) {
      const c = await waitFor(async () => {
        const c = await rig.inspector.counts(campaign);
        return c.delivery.tracking === 0 && c.sms.unsent === 2 ? c : undefined;
      }, `the fallbacks of ${campaign} to end ${how}`);
      expect(c.sms).toMatchObject({ total: 2, sent: 0, waiting: 0, unsent: 2 });
      const ended = [];
      for await (const r of rig.inspector.results(campaign)) if (r.sms) ended.push(r.sms);
      expect(ended.map((e) => [e.state, e.msgId])).toEqual([
        [how, null],
        [how, null],
      ]);
    }
    expect(ofKind(rig, 'sms')).toEqual([]);
    // Each told as message.sms_failed, with how it ended, under its message's campaign and id.
    const failed = await waitFor(() => {
      const got = receiver!.events.filter((e) => e.type === 'message.sms_failed');
      return new Set(got.map((e) => e.messageId)).size === 4 ? got : undefined;
    }, 'the sms_failed events');
    expect(
      [
        ...new Map(failed.map((e) => [e.messageId, [e.campaign, e.messageId, e.state]])).values(),
      ].sort((a, b) => Number(a[1]) - Number(b[1])),
    ).toEqual(
      [...noViberIds('x', 1), ...noViberIds('e', 101)].map(([c, id]) => [
        c,
        id,
        c === 'x' ? 'cancelled' : 'expired',
      ]),
    );
    // Purged with its campaign: nothing of the SMS is left in Redis.
    expect(await rig.producer.purge('x')).toBe(20);
    const redis = await testRedis();
    try {
      const base = rig.queue.toKey('');
      expect(await redis.keys(`${base}*x~sms*`)).toEqual([]);
      const smsIds = noViberIds('x', 1).map(([, id]) => String(FALLBACK_ID_BASE + id));
      expect(await redis.hmget(`${base}vb:done`, ...smsIds)).toEqual([null, null]);
      expect(await redis.hexists(`${base}vb:purging`, 'x~sms')).toBe(0);
    } finally {
      redis.disconnect();
    }
  });

  it('checks fallbacks at enqueue: segments reported, a text over the limit refused by row, ids kept below 10^15', async () => {
    rig = await createRig('fbenq');
    const gsm = 'a'.repeat(161); // GSM-7: 2 segments (153 + 8)
    const ucs = 'я'.repeat(71); // UCS-2: 2 segments (67 + 4)
    const res = await rig.producer.enqueue(
      'c',
      [
        { id: 1, phone: '+380971000001', smsText: 'short' },
        { id: 2, phone: '+380971000002', smsText: gsm },
        { id: 3, phone: '+380971000003', smsText: ucs },
        { id: 4, phone: '+380971000004', smsText: 'я'.repeat(6 * 67 + 1) }, // 7 segments
        { id: 5, phone: '+380971000005' }, // no fallback
        { id: 6, phone: '+380971000006', smsText: 'Hi {{name}}', columns: { name: 'Оля' } },
        { id: FALLBACK_ID_BASE, phone: '+380971000007', smsText: 'x' },
        { id: 8, phone: '+380971000008', smsText: 'x', smsSender: 'TwelveChars!' },
      ],
      { defaults: { sender: 'Shop', text: 'Viber text' } },
    );
    expect(res.enqueued).toBe(5);
    expect(res.sms).toEqual({ messages: 4, segments: 1 + 2 + 2 + 1, bySegments: { 1: 2, 2: 2 } });
    expect(res.rejected).toEqual([
      {
        line: 4,
        id: 4,
        errors: [
          {
            field: 'sms_text',
            rule: 'takes 7 SMS segments (UCS-2); at most 6 are allowed (smsMaxSegments)',
          },
        ],
      },
      {
        line: 7,
        id: FALLBACK_ID_BASE,
        errors: [
          {
            field: 'id',
            rule: `must be below ${FALLBACK_ID_BASE} (the SMS fallbacks' ids start there)`,
          },
        ],
      },
      {
        line: 8,
        id: 8,
        errors: [
          { field: 'sms_sender', rule: 'must be at most 11 characters (the gateway limit)' },
        ],
      },
    ]);
    // The filled text is the message's own; the sender is the Viber one unless it has its own.
    const six = await rig.inspector.message('c', 6);
    expect(six?.state).toBe('waiting');
    const redis = await testRedis();
    const stored = JSON.parse(
      (await redis.hget(rig.queue.toKey('vb:msg'), '6').finally(() => redis.disconnect())) ?? '{}',
    ) as { message: { smsText?: string } };
    expect(stored.message.smsText).toBe('Hi Оля');
  });

  it("shows the SMS funnel on the console's campaign page, in a real Chromium, and none where there is none", async () => {
    rig = await createRig('fbconsole', { withoutViber: phoneWithoutViber });
    await rig.producer.enqueue('with', sampleMessages(20, 1, { smsText: 'SMS' }));
    await rig.producer.enqueue('without', sampleMessages(20, 101));
    await rig.startWorker(FAST);
    await allTracked('with', 2);
    const dashboard = await startDashboard({
      connection: TEST_REDIS,
      queueNames: [rig.queueName],
      port: 0,
    });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(new URL('/campaigns/with', dashboard.url).href);
      const steps = page.locator('#sms li');
      await steps.first().waitFor({ timeout: 10_000 });
      expect(await page.locator('#sms-section').isVisible()).toBe(true);
      expect(await steps.allInnerTexts()).toEqual(['fallbacks: 2', 'sent: 2', 'delivered: 2']);
      await page.goto(new URL('/campaigns/without', dashboard.url).href);
      await page.locator('#funnel li').first().waitFor({ timeout: 10_000 });
      expect(await page.locator('#sms-section').isVisible()).toBe(false);
    } finally {
      await browser.close();
      await dashboard.close();
    }
  });

  it('takes a fallback from the command line: --sms-text with placeholders, sms_text columns, the segment limit, and shows the SMS funnel in status and results', async () => {
    rig = await createRig('fbcli', { withoutViber: phoneWithoutViber });
    const env = { VIBER_QUEUE: rig.queueName };
    // Ids 1..4: the phone ending in 0 (id 1) has no Viber. Row 3 brings its own text, row 4 one
    // over two segments.
    const csv =
      'id,phone,name,sms_text\n' +
      '1,+380971000010,Оля,\n' +
      '2,+380971000011,Петро,\n' +
      '3,+380971000012,Ann,"Own text, <b>&</b>"\n' +
      `4,+380971000013,Bo,${'x'.repeat(307)}\n`;
    const args = ['enqueue', '--campaign', 'c', '--file', '-', '--sender', 'Shop', '--text', 'Hi'];
    args.push('--sms-text', 'Привіт, {{name}}! Viber не дійшов', '--sms-max-segments', '2');
    const r = await runCli([...args, '--json'], env, csv);
    expect(r.code).toBe(1); // a row rejected
    expect(r.stderr).toContain(
      'rejected line 5 (id 4): sms_text: takes 3 SMS segments (GSM-7); at most 2 are allowed (smsMaxSegments)',
    );
    expect(r.stderr).toContain(
      'SMS fallback: 3 messages carry one, 1 segment × 3 (3 segments if every one is sent)',
    );
    expect(JSON.parse(r.stdout.trim())).toMatchObject({
      enqueued: 3,
      sms: { messages: 3, segments: 3, bySegments: { '1': 3 } },
    });
    await rig.startWorker(FAST);
    const { c } = await allTracked('c', 1);
    expect(rig.sandbox.accepted.get(FALLBACK_ID_BASE + 1)?.sms?.text).toBe(
      'Привіт, Оля! Viber не дійшов',
    );
    expect(c.sms.delivered).toBe(1);
    const status = await runCli(['status', '--campaign', 'c'], env);
    expect(status.stdout).toContain('sms        fallbacks 1 → sent 1 → delivered 1 (100.0%)');
    const out = await runCli(['results', '--campaign', 'c', '--format', 'csv'], env);
    const rows = out.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/,sms_msg_id,sms_status,sms_delivery$/);
    const smsMsgId = rig.sandbox.accepted.get(FALLBACK_ID_BASE + 1)?.msgId;
    expect(rows.find((l) => l.startsWith('1,'))).toMatch(
      new RegExp(`,${smsMsgId},completed,DELIVERED$`),
    );
    expect(rows.find((l) => l.startsWith('2,'))).toMatch(/,,,$/);
  });

  it("keeps a campaign's SMS within its campaign rate: one bucket for its messages and their fallbacks", async () => {
    rig = await createRig('fbrate', { withoutViber: phoneWithoutViber });
    // Every phone without Viber: each message sent is followed by its SMS while the rest of the
    // campaign still goes out, from the same 10-a-second bucket.
    const messages = sampleMessages(40, 1, { smsText: 'SMS', phone: '+380971000000' });
    await rig.producer.enqueue('c', messages, { campaignRate: 10 });
    await rig.startWorker({ ...FAST, trackAfterMs: 50, trackMaxIntervalMs: 100 });
    await allTracked('c', 40);
    const at = [...rig.sandbox.accepted.values()].map((a) => a.at);
    expect(at).toHaveLength(80);
    const span = (Math.max(...at) - Math.min(...at)) / 1000;
    // About 10 a second, Viber and SMS together (a one-second burst to start): not 20.
    expect(at.length).toBeLessThanOrEqual(10 + 10 * (span + 1));
  });

  it('counts a campaign and its SMS as one fair share beside another campaign', async () => {
    rig = await createRig('fbfair', { withoutViber: phoneWithoutViber });
    // a: every phone without Viber, so its SMS follow its messages; b: plain. Equal weights.
    await rig.producer.enqueue(
      'a',
      sampleMessages(200, 1, { smsText: 'SMS', phone: '+380971000000' }),
    );
    await rig.producer.enqueue('b', sampleMessages(400, 1001));
    await rig.startWorker({ ...FAST, trackAfterMs: 50, rate: 100, batchSize: 10 });
    const sms = () => [...rig.sandbox.accepted.values()].filter((x) => x.kind === 'sms');
    await waitFor(() => sms().length > 0, 'the first SMS');
    const from = Math.min(...sms().map((x) => x.at)) + 500;
    await sleep(3500);
    const window = [...rig.sandbox.accepted.values()].filter(
      (x) => x.at >= from && x.at < from + 3000,
    );
    const ofA = window.filter((x) => x.kind === 'sms' || x.id <= 200).length;
    // Half each (a's messages and SMS together), not two shares to one.
    expect(window.length).toBeGreaterThan(150);
    expect(ofA / window.length).toBeGreaterThan(0.35);
    expect(ofA / window.length).toBeLessThan(0.6);
  });

  it("gives SMS packages their campaign's attempts and backoff: a gateway failing them for a while fails none", async () => {
    rig = await createRig('fbretry', { withoutViber: phoneWithoutViber });
    // The rig's producer gives campaigns 5 attempts, 50 ms backoff doubling.
    await rig.producer.enqueue('c', sampleMessages(20, 1, { smsText: 'SMS' }));
    await rig.startWorker({
      ...FAST,
      gateway: { url: rig.sandbox.url, apiKey: rig.apiKey, retries: 0 },
    });
    await waitFor(
      async () => ((await rig.inspector.counts('c')).completed === 20 ? true : undefined),
      'the Viber messages to be accepted',
    );
    // The two fallbacks are made while the campaign is paused; resumed, they meet a gateway
    // answering 500 to everything (no retry in transit) until it has refused two requests.
    await rig.producer.pause('c');
    await waitFor(
      async () => ((await rig.inspector.counts('c')).sms.paused === 2 ? true : undefined),
      'the fallbacks to be parked',
    );
    const refused = rig.sandbox.stats.faults;
    rig.sandbox.faultRates = [{ fault: { kind: 'http-error', status: 500 }, p: 1 }];
    await rig.producer.resume('c');
    await waitFor(
      async () =>
        rig.sandbox.stats.faults >= refused + 2 || (await rig.inspector.counts('c')).sms.failed > 0,
      'two requests refused (or a fallback failed)',
      10_000,
      5,
    );
    rig.sandbox.faultRates = [];
    const s = await waitFor(async () => {
      const { sms } = await rig.inspector.counts('c');
      return sms.sent + sms.failed === 2 ? sms : undefined;
    }, 'both fallbacks to end');
    expect(s).toMatchObject({ total: 2, sent: 2, failed: 0 });
  });

  it("holds fallbacks outside their campaign's send window, and a schedule change lets them go at once", async () => {
    rig = await createRig('fbwindow', { withoutViber: phoneWithoutViber });
    await rig.producer.enqueue('c', sampleMessages(20, 1, { smsText: 'SMS' }));
    await rig.startWorker({ ...FAST, trackAfterMs: 1000 });
    await waitFor(
      async () => ((await rig.inspector.counts('c')).completed === 20 ? true : undefined),
      'the Viber messages to be accepted',
    );
    // A window that is closed now (it opens two hours from now, UTC) before the fallbacks are made.
    const h = (new Date().getUTCHours() + 2) % 24;
    const hh = String(h).padStart(2, '0');
    await rig.producer.schedule('c', { window: `${hh}:00-${hh}:30`, tz: 'UTC' });
    await waitFor(
      async () => ((await rig.inspector.counts('c')).sms.waiting === 2 ? true : undefined),
      'the fallbacks to be made',
    );
    await sleep(500);
    expect(ofKind(rig, 'sms')).toEqual([]);
    // The window lifted: the companion, asleep until the window's opening, goes now.
    await rig.producer.schedule('c', { window: null });
    await waitFor(() => ofKind(rig, 'sms').length === 2, 'the SMS to be sent', 5000);
  });

  it('sends no SMS for a campaign without a fallback text', async () => {
    rig = await createRig('fbnone', { withoutViber: phoneWithoutViber });
    await rig.producer.enqueue('c', sampleMessages(50, 1));
    await rig.startWorker(FAST);
    const { c } = await allTracked('c', 0);
    expect(c.delivery.undelivered).toBe(5);
    expect(ofKind(rig, 'sms')).toEqual([]);
    expect(rig.sandbox.stats.accepted).toBe(50);
    expect(c.sms.total).toBe(0);
  });

  it('holds the fallbacks of a paused campaign until it is resumed; tracking goes on meanwhile', async () => {
    rig = await createRig('fbpause', { withoutViber: phoneWithoutViber });
    await rig.producer.enqueue('c', sampleMessages(40, 1, { smsText: 'SMS instead' }));
    await rig.startWorker(FAST);
    await waitFor(
      async () => ((await rig.inspector.counts('c')).completed === 40 ? true : undefined),
      'the Viber messages to be accepted',
    );
    await rig.producer.pause('c');
    // Tracking still records the Viber fates, and the four fallbacks wait, parked.
    const parked = await waitFor(async () => {
      const c = await rig.inspector.counts('c');
      return c.delivery.tracking === 0 && c.sms.paused === 4 ? c : undefined;
    }, 'the fallbacks to be parked');
    expect(parked.delivery).toMatchObject({ delivered: 36, undelivered: 4 });
    await new Promise((r) => setTimeout(r, 500));
    expect(ofKind(rig, 'sms')).toEqual([]);
    await rig.producer.resume('c');
    // Waiting for the campaign with its tracking waits for its SMS too.
    const { sms: s } = await rig.producer.waitUntilFinished('c', {
      tracking: true,
      timeoutMs: 20_000,
    });
    expect(s.tracking).toBe(0);
    expect(s).toMatchObject({ total: 4, sent: 4, paused: 0 });
    expect(ofKind(rig, 'sms').map((a) => a.sms?.text)).toEqual(Array(4).fill('SMS instead'));
  });
});
