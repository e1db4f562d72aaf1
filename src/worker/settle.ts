/**
 * Settling a batch: after its package is answered (or not sent), every job gets exactly one end.
 *
 * First the campaign states are written — parked messages through the guarded park script (only
 * while the campaign is still paused), every other decision in one transition per campaign — and
 * only then are the jobs settled in BullMQ: completed with their msg_id, failed, retried, cancelled,
 * parked or held (back to their campaign's backlog, jobs to the delayed set, until the dispatcher
 * releases them again) or handed back to the queue. If the state
 * write fails, no job is settled: each is left to its lock and comes back as stalled, so the counts
 * never lag BullMQ.
 */
import { DelayedError, UnrecoverableError, WaitingError } from 'bullmq';
import { state as st, unsentReason } from '../campaign/state.js';
import type { CampaignStore } from '../campaign/store.js';
import { hasCode } from '../errors.js';
import { HELD_UNTIL, type MessageEnd, type SendJobResult } from '../job.js';
import { codeName } from '../xml/codes.js';
import type { BatchContext, BatchReport, Pending } from './pending.js';
import type { Decision } from './outcome.js';

const jobError = (name: string, message: string): Error => {
  const e = new Error(message);
  e.name = name;
  return e;
};

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
    case 'expire':
      return st.expired;
    default:
      return st.waiting;
  }
}

/**
 * One script call per campaign: states, counts, the finished record of each message that ended
 * (accepted, failed for good, cancelled, expired) and, with tracking on, the start of tracking.
 */
async function record(
  store: CampaignStore,
  changes: Array<[Pending, string, MessageEnd | undefined]>,
  trackAfterMs: number | undefined,
  now: number,
): Promise<void> {
  const byCampaign = groupByCampaign(changes, ([p]) => p);
  await Promise.all(
    [...byCampaign].map(([c, list]) => {
      const moves = list.map(([p, s, end]): [number, string, MessageEnd?] =>
        end ? [p.id, s, end] : [p.id, s],
      );
      return store.settleStates(
        c,
        moves,
        now,
        trackAfterMs === undefined ? undefined : now + trackAfterMs,
      );
    }),
  );
}

/**
 * How a message ends with this decision, for its finished record: what a completed job returns,
 * or why it failed for good; undefined while it is not at its end (a retry with attempts left,
 * parked, held, handed back).
 */
function endOf(p: Pending, d: Decision, state: string, sentAt: string): MessageEnd | undefined {
  const attempts = p.job.attemptsMade + 1;
  const campaign = p.campaign;
  switch (d.action) {
    case 'complete':
      return {
        result: {
          msgId: d.msgId,
          statusCode: 1,
          status: codeName('message', 1),
          sentAt,
          attempts,
          ...(d.recovered ? { recovered: true } : {}),
        },
      };
    case 'fail':
      return {
        failed: { reason: d.reason, attempts },
        ...(d.unreadable ? { unreadable: true } : {}),
      };
    case 'retry':
      return state.startsWith('f') ? { failed: { reason: d.reason, attempts } } : undefined;
    case 'cancel':
    case 'expire': {
      const how = d.action === 'cancel' ? 'cancelled' : 'expired';
      return { failed: { reason: unsentReason(how, campaign), attempts: p.job.attemptsMade } };
    }
    default:
      return undefined;
  }
}

/** A batch may mix campaigns; their states live in separate hashes, one script call each. */
export function groupByCampaign<T>(
  items: readonly T[],
  pending: (t: T) => Pending,
): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) {
    const c = pending(t).campaign;
    // A job that names no message of ours has nothing to count or record.
    if (c === '') continue;
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
        list.map((p) => p.id),
      );
      if (control === 'paused') return;
      const d: Decision =
        control === 'cancelled' ? { action: 'cancel' } : { action: 'requeue', reason: 'resumed' };
      for (const p of list) decisions.set(p, d);
    }),
  );
}

/** Not their time: the ids go back to the front of their campaign's backlog (before the jobs move). */
async function holdBack(store: CampaignStore, decisions: Map<Pending, Decision>): Promise<void> {
  const held = [...decisions].filter(([, d]) => d.action === 'hold').map(([p]) => p);
  if (held.length === 0) return;
  await Promise.all(
    [...groupByCampaign(held, (p) => p)].map(([c, list]) =>
      store.backToBacklog(
        c,
        list.map((p) => p.id),
      ),
    ),
  );
}

export async function settle(
  items: Pending[],
  decisions: Map<Pending, Decision>,
  ctx: BatchContext,
  report: BatchReport,
): Promise<void> {
  const now = Date.now();
  const sentAt = new Date(now).toISOString();
  const results = new Map<Pending, SendJobResult>();
  try {
    // Parking writes its own states (guarded by the control) and backlog; held messages keep
    // their state (waiting) and go back to the backlog; everything else is recorded here.
    await parkPaused(ctx.store, decisions);
    await holdBack(ctx.store, decisions);
    const changes: Array<[Pending, string, MessageEnd | undefined]> = [];
    for (const p of items) {
      const d = decisions.get(p) as Decision;
      if (d.action === 'park' || d.action === 'hold' || d.action === 'ended') continue;
      const state = stateAfter(p, d);
      const end = endOf(p, d, state, sentAt);
      if (end && 'result' in end) results.set(p, end.result);
      changes.push([p, state, end]);
    }
    await record(ctx.store, changes, ctx.trackAfterMs, now);
  } catch (err) {
    // Counts could not be written: leave every job to its lock (it comes back as stalled and is
    // sent again; a message the gateway took answers 208 and is recovered then).
    ctx.logger.error({ err: (err as Error).message }, 'could not record outcomes; jobs will stall');
    for (const p of items) p.reject(new WaitingError());
    report.requeued += items.length;
    return;
  }
  await Promise.all(
    items.map(async (p) => {
      const d = decisions.get(p) as Decision;
      switch (d.action) {
        case 'complete':
          if (d.recovered) report.recovered++;
          report.completed++;
          p.resolve(results.get(p) as SendJobResult);
          return;
        case 'ended':
          // Counted when it ended; its job only catches up with its record.
          if (d.record.result) p.resolve(d.record.result);
          else p.reject(new UnrecoverableError(d.record.failed?.reason ?? 'ended'));
          return;
        case 'fail':
          report.failed++;
          p.reject(new UnrecoverableError(d.reason));
          return;
        case 'retry':
          report.retried++;
          p.reject(jobError(d.code ? `GATEWAY_${d.code}` : 'TRANSIENT', d.reason));
          return;
        case 'expire':
          report.expired++;
          p.reject(new UnrecoverableError(unsentReason('expired', p.campaign)));
          return;
        case 'cancel':
          report.cancelled++;
          p.reject(new UnrecoverableError(unsentReason('cancelled', p.campaign)));
          return;
        case 'park':
        case 'hold':
          if (d.action === 'park') report.parked++;
          else report.held++;
          try {
            // Its id is in the backlog already: the dispatcher releases it again when the
            // campaign is resumed or its time comes.
            await p.job.moveToDelayed(HELD_UNTIL, p.token);
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
}
