/**
 * Sending one attempt at a package and recording each message's outcome.
 *
 * An attempt goes: its records and held-back check (read as the package was opened) and shared
 * fields → rate limit → active (states written, held back again if its campaign may not send now)
 * → POST (retried in transit by the gateway client) → decideBatch (pure) → 208s recovered
 * through `<status>` → every message settled in one script (settle.ts). If that write fails, the
 * package's job is left to its lock and comes back as stalled: nothing is counted or lost.
 */
import type { CampaignStore, HeldLetter } from '../campaign/store.js';
import { hasCode, type GatewayHttpError } from '../errors.js';
import { expand } from '../campaign/shared.js';
import { parseStored } from '../campaign/records.js';
import type { FinishedRecord, SendJobData } from '../job.js';
import type { ViberMessage } from '../message.js';
import { findXmlUnsafe } from '../xml/escape.js';
import { isFallbackCampaign } from '../fallback.js';
import type { SendAnswer } from '../xml/parse.js';
import { decideBatch, type BatchDecision, type Decision } from './outcome.js';
import type { BatchContext, BatchReport, Pending } from './pending.js';
import type { PackageAttempt } from './pending.js';
import { settle, type Settled } from './settle.js';

/** Runs one attempt at a package to the end: every message decided and settled. */
export async function runBatch(
  items: Pending[],
  attempt: PackageAttempt,
  ctx: BatchContext,
): Promise<{ report: BatchReport; settled: Settled }> {
  const started = Date.now();
  const report: BatchReport = {
    package: attempt.id,
    sms: isFallbackCampaign(items[0]?.campaign ?? ''),
    size: items.length,
    durationMs: 0,
    completed: 0,
    recovered: 0,
    failed: 0,
    retried: 0,
    requeued: 0,
    throttled: 0,
    parked: 0,
    cancelled: 0,
    expired: 0,
    suppressed: 0,
    held: 0,
    codes: {},
  };
  const decisions = new Map<Pending, Decision>();
  try {
    // What is sent is each message's record in our store: one whose record cannot be read
    // fails alone, unsent. A record may still hold text XML cannot carry (written around the
    // producer): that one fails alone too. A campaign that may not send (paused, cancelled,
    // expired, not its time) is held back twice: as the package was opened, before a rate slot
    // is taken for it, and in send(), once the slot is granted — the last moment before the
    // package goes on the wire.
    await readRecords(items, ctx, decisions);
    const known = items.filter((p) => !decisions.has(p));
    const letter = attempt.held;
    if (letter === undefined) await ctx.shared.load(known.map((p) => p.stored?.shared));
    const sendable: Pending[] = [];
    for (const p of known) {
      const stored = p.stored as SendJobData;
      if (letter !== undefined) {
        decisions.set(p, heldDecision(letter));
        continue;
      }
      const fields = ctx.shared.get(stored.shared);
      if (stored.shared !== undefined && !fields) {
        decisions.set(p, {
          action: 'fail',
          code: undefined,
          reason: `message ${p.id}: its shared fields (set ${stored.shared}) are not in Redis`,
        });
        continue;
      }
      const m = (p.message = expand(stored.message, fields));
      // One regex over the fields (the package is built once, by the gateway client).
      const unsafe = findXmlUnsafe(
        m.phone + m.sender + m.type + m.text + (m.image ?? '') + (m.button ?? '') + (m.url ?? ''),
      );
      if (unsafe !== undefined) {
        decisions.set(p, { action: 'fail', code: undefined, reason: unsafeField(m) });
        continue;
      }
      sendable.push(p);
    }
    // One command a package: phones put on the suppression list since enqueue end unsent.
    const off = await ctx.store.suppressedOf(
      sendable.map((p) => (p.message as ViberMessage).phone),
    );
    await send(
      sendable.filter((p, i) => {
        if (off[i]) decisions.set(p, { action: 'suppress' });
        return !off[i];
      }),
      ctx,
      decisions,
      report,
    );
  } catch (err) {
    // Shutdown abort, or Redis failing under us: hand back whatever is not decided yet.
    for (const p of items) {
      if (!decisions.has(p))
        decisions.set(p, { action: 'requeue', reason: (err as Error).message });
    }
  }
  const settled = await settle(items, decisions, attempt, ctx, report);
  report.durationMs = Date.now() - started;
  return { report, settled };
}

/**
 * Waits for its slot, marks the package active, POSTs it and fills `decisions` for every item.
 * Marking active is the atomic step that holds back paused and cancelled campaigns' messages;
 * it runs after the slot is granted — at a low rate a package may wait seconds for its slot, and
 * a pause or cancel in that time must still hold it back. Throttled (212): pauses every worker
 * and sends the same package again (checked again), using no attempt. Package error 201: sends
 * each half on its own, so that one unreadable message cannot sink the rest.
 */
async function send(
  pending: Pending[],
  ctx: BatchContext,
  decisions: Map<Pending, Decision>,
  report: BatchReport,
): Promise<void> {
  let items = pending;
  let batch: BatchDecision;
  let answer: SendAnswer;
  for (;;) {
    if (items.length === 0) return;
    await ctx.limiter.acquire(items.length, ctx.signal);
    items = await activate(ctx.store, items, decisions);
    if (items.length === 0) return;
    const messages = items.map((p) => p.message as ViberMessage);
    const ids = messages.map((m) => m.id);
    try {
      // A fallback companion's package is SMS (src/fallback.ts): its records hold id, phone,
      // sender and text.
      answer = await (report.sms
        ? ctx.gateway.sendSms(messages, { signal: ctx.signal })
        : ctx.gateway.send(messages, { signal: ctx.signal }));
      batch = decideBatch(answer, ids);
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      const status = hasCode(err, 'GATEWAY_HTTP') ? (err as GatewayHttpError).statusCode : 0;
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
        // 404, 401, 403…: a wrong ALPHASMS_URL or a proxy refusing us. Retrying would only fail
        // every message after its attempts: keep them queued and stop, like an account problem.
        ctx.onHalt({ level: 'http', code: status, name: `HTTP_${status}` });
        const d: Decision = { action: 'requeue', reason: (err as Error).message };
        for (const p of items) decisions.set(p, d);
        return;
      }
      const d: Decision = { action: 'retry', code: undefined, reason: (err as Error).message };
      for (const p of items) decisions.set(p, d);
      return;
    }
    if (!batch.throttle) break;
    report.throttled++;
    await ctx.onThrottle();
  }
  if (batch.bisect) {
    const half = Math.ceil(items.length / 2);
    await send(items.slice(0, half), ctx, decisions, report);
    await send(items.slice(half), ctx, decisions, report);
    return;
  }
  if (batch.halt) {
    if (batch.halt.level === 'package') report.packageError = batch.halt.code;
    ctx.onHalt(batch.halt);
  } else {
    ctx.onAccepted();
  }
  if (answer.kind === 'results') {
    for (const r of answer.results.values()) report.codes[r.code] = (report.codes[r.code] ?? 0) + 1;
  }
  const toRecover: Pending[] = [];
  for (const p of items) {
    const d = batch.decisions.get(p.id);
    if (!d) continue;
    if (d.action === 'recover') toRecover.push(p);
    else decisions.set(p, d);
  }
  if (toRecover.length > 0) await recover(toRecover, ctx, decisions);
}

/** 208: the gateway has these already. Read their msg_ids back, or try again later. */
async function recover(items: Pending[], ctx: BatchContext, decisions: Map<Pending, Decision>) {
  const ids = items.map((p) => p.id);
  try {
    const statuses = await ctx.gateway.status(ids, { signal: ctx.signal });
    const byId = new Map(statuses.filter((s) => s.id !== undefined).map((s) => [s.id, s]));
    for (const p of items) {
      const s = byId.get(p.id);
      decisions.set(
        p,
        s && s.smsId > 0
          ? { action: 'complete', msgId: s.smsId, recovered: true }
          : {
              action: 'retry',
              code: 208,
              reason: '208 ERR_DUPLICATE, and <status> gave no msg_id',
            },
      );
    }
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    const reason = `208 ERR_DUPLICATE, and <status> failed: ${(err as Error).message}`;
    for (const p of items) decisions.set(p, { action: 'retry', code: 208, reason });
  }
}

/**
 * Each item's record, as the package was opened with it. An item with no record left ended
 * before (its package came back after a crash): its finished record says how, in one round trip.
 * One whose record does not parse fails alone.
 */
async function readRecords(
  items: Pending[],
  ctx: BatchContext,
  decisions: Map<Pending, Decision>,
): Promise<void> {
  const gone = items.filter((p) => p.raw === null);
  const recs = await ctx.store.records(gone.map((p) => p.id));
  gone.forEach((p, i) => {
    const rec = parseStored(recs[i], p.id) as FinishedRecord | undefined;
    decisions.set(p, { action: 'ended', record: rec });
  });
  for (const p of items) {
    if (p.raw === null) continue;
    const stored = parseStored(p.raw, p.id);
    if (stored) {
      p.stored = stored;
      continue;
    }
    decisions.set(p, {
      action: 'fail',
      code: undefined,
      reason: `message ${p.id}: its stored record cannot be read (RECORD_UNREADABLE)`,
      unreadable: true,
    });
  }
}

/** Which field of a message holds a character XML cannot carry, and where (rare: error path). */
function unsafeField(m: ViberMessage): string {
  for (const [field, value] of Object.entries(m)) {
    const problem = typeof value === 'string' ? findXmlUnsafe(value) : undefined;
    if (problem) return `message ${m.id} ${field}: ${problem}`;
  }
  return `message ${m.id}: unsafe text`;
}

/** What becomes of a message held back, by why (HeldLetter). */
function heldDecision(letter: HeldLetter): Decision {
  switch (letter) {
    case 'p':
      return { action: 'park' };
    case 'e':
      return { action: 'expire' };
    case 'x':
      return { action: 'cancel' };
    default:
      return { action: 'hold' };
  }
}

/**
 * Marks the batch active in one script call. Messages of a campaign that may not send now are
 * held back instead of sent; returns the rest.
 */
async function activate(
  store: CampaignStore,
  items: Pending[],
  decisions: Map<Pending, Decision>,
): Promise<Pending[]> {
  const campaign = items[0]?.campaign;
  if (campaign === undefined) return items;
  const held = await store.activate(
    campaign,
    items.map((p) => p.id),
  );
  if (held.size === 0) return items;
  const out: Pending[] = [];
  for (const p of items) {
    const letter = held.get(p.id);
    if (letter === undefined) out.push(p);
    else decisions.set(p, heldDecision(letter));
  }
  return out;
}
