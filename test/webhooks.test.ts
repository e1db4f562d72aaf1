/**
 * Signed webhooks: every change of a message's outcome, and each campaign's end, reaches the
 * endpoint at least once, signed; the outbox holds events through failures, and what it gives up
 * is kept for `viber-bulk webhooks --failed`.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { fateOf, type DeliverySimulation } from '../src/sandbox/delivery.js';
import type { WebhookEvent } from '../src/webhook/event.js';
import type { SendWorkerOptions } from '../src/worker/options.js';
import { runCli } from './cli-run.js';
import { killAllCliWorkers, startCliWorker } from './cli-worker.js';
import { createRig, type Rig } from './fixture.js';
import { redisEnv, sampleMessages, waitFor } from './helpers.js';
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
      codeFor: (m) => (m.id % 10 === 3 ? 203 : undefined),
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
});
