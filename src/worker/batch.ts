/**
 * Sending one batch and recording each message's outcome on its own job.
 *
 * A batch goes: active (states written) → rate limit → POST (retried in transit by the gateway
 * client) → decideBatch (pure) → 208s recovered through `<status>` → states written → each job
 * settled. States are written before jobs are settled, so the campaign counts never lag BullMQ; if
 * that write fails, the jobs are left to their locks and come back as stalled — never completed or
 * failed without being counted.
 */
import { DelayedError, UnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { state as st } from '../campaign/state.js';
import type { CampaignStore } from '../campaign/store.js';
import { hasCode, type GatewayHttpError } from '../errors.js';
import type { GatewayClient } from '../gateway/client.js';
import type { SendJobData, SendJobResult } from '../job.js';
import type { ViberMessage } from '../message.js';
import { findXmlUnsafe } from '../xml/escape.js';
import { codeName } from '../xml/codes.js';
import type { SendAnswer } from '../xml/parse.js';
import { decideBatch, type BatchDecision, type Decision, type HaltReason } from './outcome.js';
import type { RateLimiter } from './rate-limiter.js';

/** A job waiting in a batch, with the processor promise BullMQ awaits for it. */
export interface Pending {
  job: Job<SendJobData, SendJobResult>;
  token: string;
  resolve(result: SendJobResult): void;
  reject(err: Error): void;
}

/** What one batch came to; emitted as the worker's `batch` event and logged. */
export interface BatchReport {
  size: number;
  durationMs: number;
  completed: number;
  recovered: number;
  failed: number;
  retried: number;
  requeued: number;
  /** Jobs of paused campaigns, parked instead of sent. */
  parked: number;
  /** Jobs of cancelled campaigns, failed instead of sent. */
  cancelled: number;
  /** Times the gateway throttled this batch (212) before taking it. */
  throttled: number;
  /** Messages by the gateway's per-message code, as answered to this batch (208 included). */
  codes: Record<string, number>;
  /** Package-level code, when the gateway refused the whole package. */
  packageError?: number;
}

export interface BatchContext {
  gateway: GatewayClient;
  store: CampaignStore;
  /** Rate limit and throttle pauses, shared by all workers on the queue. */
  limiter: RateLimiter;
  logger: Logger;
  /** How long a paused campaign's job stays parked before a worker looks at it again, ms. */
  pauseRecheckMs: number;
  /** Aborted when shutdown runs out of time: in-flight work hands its jobs back. */
  signal: AbortSignal;
  /** The gateway said 212: pause every worker on the queue (the batch is then sent again). */
  onThrottle(): Promise<void>;
  /** A package was accepted: throttling is over. */
  onAccepted(): void;
  /** The account cannot send: stop taking work. */
  onHalt(halt: HaltReason): void;
}

const jobError = (name: string, message: string): Error => {
  const e = new Error(message);
  e.name = name;
  return e;
};

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
    codes: {},
  };
  const decisions = new Map<Pending, Decision>();
  try {
    // Paused and cancelled campaigns' messages are held back here, atomically with their states.
    // A job added around the producer (no validation) may hold text XML cannot carry: fail it
    // alone instead of the package. Two jobs with one message id cannot both be sent in a package.
    const sendable: Pending[] = [];
    const seen = new Set<number>();
    for (const p of await activate(ctx.store, items, decisions)) {
      const m = p.job.data.message;
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
 * Waits for its slot, POSTs the package and fills `decisions` for every item. Throttled (212):
 * pauses every worker and sends the same package again, using no attempt. Package error 201:
 * sends each half on its own, so that one unreadable message cannot sink the rest.
 */
async function send(
  items: Pending[],
  ctx: BatchContext,
  decisions: Map<Pending, Decision>,
  report: BatchReport,
): Promise<void> {
  if (items.length === 0) return;
  const messages: ViberMessage[] = items.map((p) => p.job.data.message);
  const ids = messages.map((m) => m.id);
  let batch: BatchDecision;
  let answer: SendAnswer;
  for (;;) {
    await ctx.limiter.acquire(items.length, ctx.signal);
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
    const d = batch.decisions.get(p.job.data.message.id);
    if (!d) continue;
    if (d.action === 'recover') toRecover.push(p);
    else decisions.set(p, d);
  }
  if (toRecover.length > 0) await recover(toRecover, ctx, decisions);
}

/** 208: the gateway has these already. Read their msg_ids back, or try again later. */
async function recover(items: Pending[], ctx: BatchContext, decisions: Map<Pending, Decision>) {
  const ids = items.map((p) => p.job.data.message.id);
  try {
    const statuses = await ctx.gateway.status(ids, { signal: ctx.signal });
    const byId = new Map(statuses.filter((s) => s.id !== undefined).map((s) => [s.id, s]));
    for (const p of items) {
      const s = byId.get(p.job.data.message.id);
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

/** Which field of a message holds a character XML cannot carry, and where (rare: error path). */
function unsafeField(m: ViberMessage): string {
  for (const [field, value] of Object.entries(m)) {
    const problem = typeof value === 'string' ? findXmlUnsafe(value) : undefined;
    if (problem) return `message ${m.id} ${field}: ${problem}`;
  }
  return `message ${m.id}: unsafe text`;
}

/** The state each decision leaves a job in (see campaign/state.ts); parkPaused writes 'park's. */
function stateAfter(p: Pending, d: Decision): string {
  switch (d.action) {
    case 'complete':
      return st.completed(1);
    case 'fail':
      return st.failed(d.code);
    case 'retry': {
      const attempts = p.job.opts.attempts ?? 1;
      return p.job.attemptsMade + 1 >= attempts ? st.failed(d.code) : st.delayed;
    }
    case 'cancel':
      return st.cancelled;
    default:
      return st.waiting;
  }
}

/**
 * Marks the batch active, campaign by campaign, one script call each. Messages of a paused or
 * cancelled campaign are held back (parked or cancelled) instead of sent; returns the rest.
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
        list.map((p) => p.job.data.message.id),
      ),
    ),
  );
  if (held.every((h) => h.size === 0)) return items;
  const out: Pending[] = [];
  [...byCampaign.values()].forEach((list, i) => {
    for (const p of list) {
      const letter = held[i]?.get(p.job.data.message.id);
      if (letter === undefined) out.push(p);
      else decisions.set(p, { action: letter === st.paused ? 'park' : 'cancel' });
    }
  });
  return out;
}

async function record(store: CampaignStore, changes: Array<[Pending, string]>): Promise<void> {
  const byCampaign = groupByCampaign(changes, ([p]) => p);
  await Promise.all(
    [...byCampaign].map(([c, list]) =>
      store.transition(
        c,
        list.map(([p, s]) => [p.job.data.message.id, s]),
      ),
    ),
  );
}

/** A batch may mix campaigns; their states live in separate hashes, one script call each. */
function groupByCampaign<T>(items: readonly T[], pending: (t: T) => Pending): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) {
    const c = pending(t).job.data.campaign;
    let list = out.get(c);
    if (!list) out.set(c, (list = []));
    list.push(t);
  }
  return out;
}

/**
 * Parks what was decided 'park', campaign by campaign, if the campaign is still paused; otherwise
 * those messages follow the control as it is now (cancelled, or back to the queue).
 */
async function parkPaused(store: CampaignStore, decisions: Map<Pending, Decision>): Promise<void> {
  const parked = [...decisions].filter(([, d]) => d.action === 'park').map(([p]) => p);
  if (parked.length === 0) return;
  await Promise.all(
    [...groupByCampaign(parked, (p) => p)].map(async ([c, list]) => {
      const control = await store.park(
        c,
        list.map((p) => p.job.data.message.id),
      );
      if (control === 'paused') return;
      const d: Decision =
        control === 'cancelled' ? { action: 'cancel' } : { action: 'requeue', reason: 'resumed' };
      for (const p of list) decisions.set(p, d);
    }),
  );
}

/**
 * Parked jobs whose message a resume took back (p -> w) while they were on their way to the
 * delayed set, where the resume could not promote them: promoted here. Any later resume finds
 * them delayed and promotes them itself.
 */
async function unparkResumed(store: CampaignStore, parked: Pending[]): Promise<void> {
  await Promise.all(
    [...groupByCampaign(parked, (p) => p)].map(async ([c, list]) => {
      const states = await store.statesOf(
        c,
        list.map((p) => p.job.data.message.id),
      );
      await Promise.all(
        list.map((p, i) =>
          states[i] === st.paused ? undefined : p.job.promote().catch(() => undefined),
        ),
      );
    }),
  );
}

async function settle(
  items: Pending[],
  decisions: Map<Pending, Decision>,
  ctx: BatchContext,
  report: BatchReport,
): Promise<void> {
  try {
    // Parking writes its own states (guarded by the control); everything else is recorded here.
    await parkPaused(ctx.store, decisions);
    await record(
      ctx.store,
      items
        .filter((p) => decisions.get(p)?.action !== 'park')
        .map((p) => [p, stateAfter(p, decisions.get(p) as Decision)]),
    );
  } catch (err) {
    // Counts could not be written: leave every job to its lock (it comes back as stalled and is
    // sent again; a message the gateway took answers 208 and is recovered then).
    ctx.logger.error({ err: (err as Error).message }, 'could not record outcomes; jobs will stall');
    for (const p of items) p.reject(new WaitingError());
    report.requeued += items.length;
    return;
  }
  const sentAt = new Date().toISOString();
  const parked: Pending[] = [];
  await Promise.all(
    items.map(async (p) => {
      const d = decisions.get(p) as Decision;
      switch (d.action) {
        case 'complete':
          if (d.recovered) report.recovered++;
          report.completed++;
          p.resolve({
            msgId: d.msgId,
            statusCode: 1,
            status: codeName('message', 1),
            sentAt,
            attempts: p.job.attemptsMade + 1,
            ...(d.recovered ? { recovered: true } : {}),
          });
          return;
        case 'fail':
          report.failed++;
          p.reject(new UnrecoverableError(d.reason));
          return;
        case 'retry':
          report.retried++;
          p.reject(jobError(d.code ? `GATEWAY_${d.code}` : 'TRANSIENT', d.reason));
          return;
        case 'cancel':
          report.cancelled++;
          p.reject(
            new UnrecoverableError(`cancelled: campaign ${p.job.data.campaign} was cancelled`),
          );
          return;
        case 'park':
          report.parked++;
          try {
            // Resume promotes it at once; unparkResumed covers a resume that ran while it was
            // on its way there; the recheck is a last safety net.
            await p.job.moveToDelayed(Date.now() + ctx.pauseRecheckMs, p.token);
            parked.push(p);
            p.reject(new DelayedError());
          } catch {
            p.reject(new WaitingError()); // lock lost: the stalled checker brings it back
          }
          return;
        default:
          report.requeued++;
          try {
            await p.job.moveToWait(p.token);
          } catch (err) {
            // Lock lost or Redis away: the stalled checker will bring the job back.
            if (!hasCode(err, 'REDIS_UNAVAILABLE')) ctx.logger.debug({ err }, 'moveToWait failed');
          }
          p.reject(new WaitingError());
      }
    }),
  );
  if (parked.length > 0) {
    await unparkResumed(ctx.store, parked).catch((err: Error) =>
      ctx.logger.warn({ err: err.message }, 'could not re-check parked jobs; the recheck will'),
    );
  }
}
