/**
 * Sending one batch and recording each message's outcome on its own job.
 *
 * A batch goes: held-back check and shared fields (one round trip) → rate limit → active
 * (states written, held back again if its campaign may not send now) → POST (retried in transit
 * by the gateway client) → decideBatch (pure) → 208s recovered through `<status>` → states
 * written → each job settled. States are written before jobs are settled, so the campaign counts never lag BullMQ; if
 * that write fails, the jobs are left to their locks and come back as stalled — never completed or
 * failed without being counted.
 */
import type { CampaignStore, HeldLetter } from '../campaign/store.js';
import { hasCode, type GatewayHttpError } from '../errors.js';
import { expand } from '../campaign/shared.js';
import type { FinishedRecord, SendJobData } from '../job.js';
import type { ViberMessage } from '../message.js';
import { findXmlUnsafe } from '../xml/escape.js';
import type { SendAnswer } from '../xml/parse.js';
import { decideBatch, type BatchDecision, type Decision } from './outcome.js';
import type { BatchContext, BatchReport, Pending } from './pending.js';
import { groupByCampaign, settle } from './settle.js';

/** Runs one batch to the end. Never rejects: every job is settled one way or another. */
export async function runBatch(items: Pending[], ctx: BatchContext): Promise<BatchReport> {
  const started = Date.now();
  const report: BatchReport = {
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
    held: 0,
    codes: {},
  };
  const decisions = new Map<Pending, Decision>();
  try {
    // What is sent is each message's record in our store, never the job's own data: a job that
    // names no message enqueued on this queue fails alone, unsent, and so does one whose record
    // cannot be read. A record may still hold text XML cannot carry (written around the
    // producer): that one fails alone too. Two jobs with one message id cannot both be sent in a
    // package. Campaigns that may not send (paused, cancelled, expired, not their time) are held
    // back twice: here, before a rate slot is taken for them, and in send(), once the slot is
    // granted — the last moment before the package goes on the wire.
    await readRecords(items, ctx, decisions);
    const known = items.filter((p) => !decisions.has(p));
    const [held] = await Promise.all([
      ctx.store.held([...new Set(known.map((p) => p.campaign))]),
      ctx.shared.load(known.map((p) => p.stored?.shared)),
    ]);
    const sendable: Pending[] = [];
    const seen = new Set<number>();
    for (const p of known) {
      const stored = p.stored as SendJobData;
      const letter = held.get(p.campaign);
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
      if (seen.has(m.id)) {
        decisions.set(p, { action: 'requeue', reason: 'same message id twice in one batch' });
        continue;
      }
      seen.add(m.id);
      sendable.push(p);
    }
    await send(sendable, ctx, decisions, report);
  } catch (err) {
    // Shutdown abort, or Redis failing under us: hand back whatever is not decided yet.
    for (const p of items) {
      if (!decisions.has(p))
        decisions.set(p, { action: 'requeue', reason: (err as Error).message });
    }
  }
  await settle(items, decisions, ctx, report);
  report.durationMs = Date.now() - started;
  return report;
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
      answer = await ctx.gateway.send(messages, { signal: ctx.signal });
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
 * Each item's record from our store (one HMGET): its campaign and what is sent. An item whose job
 * names no stored message is decided 'fail' with no campaign (nothing of ours to count); one whose
 * record does not parse fails in the campaign its state hash knows it by (the job's word for it).
 */
async function readRecords(
  items: Pending[],
  ctx: BatchContext,
  decisions: Map<Pending, Decision>,
): Promise<void> {
  const raw = await ctx.store.queuedData(items.map((p) => (Number.isSafeInteger(p.id) ? p.id : 0)));
  // No data: it ended (a job that comes back after a crash between the settle step and BullMQ),
  // or it never was ours. Its finished record says which, in one more round trip.
  const gone = items.filter((p, i) => raw[i] == null && Number.isSafeInteger(p.id) && p.id > 0);
  const ended = new Map<Pending, FinishedRecord>();
  if (gone.length > 0) {
    const recs = await ctx.store.records(gone.map((p) => p.id));
    gone.forEach((p, i) => {
      const rec = parseRecord(recs[i] ?? '', p.id) as FinishedRecord | undefined;
      if (rec && (rec.result || rec.failed)) ended.set(p, rec);
    });
  }
  items.forEach((p, i) => {
    const text = raw[i];
    const rec = ended.get(p);
    if (rec) {
      p.campaign = rec.campaign;
      decisions.set(p, { action: 'ended', record: rec });
      return;
    }
    if (!Number.isSafeInteger(p.id) || p.id <= 0 || text == null) {
      decisions.set(p, {
        action: 'fail',
        code: undefined,
        reason: `job ${p.job.id ?? '?'} names no message enqueued on this queue: not sent (FOREIGN_JOB)`,
      });
      return;
    }
    const stored = parseRecord(text, p.id);
    if (stored) {
      p.stored = stored;
      p.campaign = stored.campaign;
      return;
    }
    const claimed = (p.job.data as Partial<SendJobData> | undefined)?.campaign;
    p.campaign = typeof claimed === 'string' && /^[\w.-]{1,64}$/.test(claimed) ? claimed : '';
    decisions.set(p, {
      action: 'fail',
      code: undefined,
      reason: `message ${p.id}: its stored record cannot be read (RECORD_UNREADABLE)`,
      unreadable: true,
    });
  });
}

/** A stored record, if it is one: JSON with its campaign and a message of this id. */
function parseRecord(text: string, id: number): SendJobData | undefined {
  try {
    const r = JSON.parse(text) as Partial<SendJobData> | null;
    if (r && typeof r.campaign === 'string' && r.message && r.message.id === id) {
      return r as SendJobData;
    }
  } catch {
    // not JSON
  }
  return undefined;
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
 * Marks the batch active, campaign by campaign, one script call each. Messages of a campaign
 * that may not send now are held back instead of sent; returns the rest.
 */
async function activate(
  store: CampaignStore,
  items: Pending[],
  decisions: Map<Pending, Decision>,
): Promise<Pending[]> {
  const byCampaign = groupByCampaign(items, (p) => p);
  const held = await Promise.all(
    [...byCampaign].map(([c, list]) =>
      store.activate(
        c,
        list.map((p) => p.id),
      ),
    ),
  );
  if (held.every((h) => h.size === 0)) return items;
  const out: Pending[] = [];
  [...byCampaign.values()].forEach((list, i) => {
    for (const p of list) {
      const letter = held[i]?.get(p.id);
      if (letter === undefined) out.push(p);
      else decisions.set(p, heldDecision(letter));
    }
  });
  return out;
}
