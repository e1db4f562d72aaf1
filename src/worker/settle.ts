/**
 * Settling one attempt at a package: after it is answered (or not sent), every message of it gets
 * its next step, all in one script call (pkgSettle-15.lua): ended (accepted, failed for good,
 * cancelled, expired) with its finished record, retried or kept in the package, or back in its
 * campaign's backlog (parked, held). Records are composed here, whole, from the message's record
 * as it was read: nothing in Redis edits JSON.
 *
 * If that call fails, nothing of the attempt is written: the job is left to its lock and comes
 * back as stalled (a message the gateway took answers 208 then, and is recovered).
 */
import { state as st } from '../campaign/state.js';
import { endEventMembers, finishedRecord, unsentRecord } from '../campaign/records.js';
import type { PackageChange } from '../campaign/packages.js';
import type { FailedEnd, PackageMessageResult, SendJobResult } from '../job.js';
import { codeName } from '../xml/codes.js';
import type { BatchContext, BatchReport, PackageAttempt, Pending } from './pending.js';
import type { Decision } from './outcome.js';

/** What an attempt left: what its job does next. */
export interface Settled {
  /** False when the outcomes could not be written (the job is left to its lock). */
  recorded: boolean;
  /** Ids the package still holds: retried, or kept for the job to go back to the wait list. */
  left: number;
  /** Some ids were kept: the job goes back to the wait list whole, using no attempt. */
  kept: boolean;
  /** Why ids were retried (the job's error, for BullMQ's backoff). */
  retryReason: string | undefined;
  /** The messages this attempt ended. */
  messages: PackageMessageResult[];
}

/** The change and the result line of one message, from its decision. */
function changeOf(
  p: Pending,
  d: Decision,
  attempt: PackageAttempt,
  sentAt: string,
): { change: PackageChange; line?: PackageMessageResult } {
  const attempts = attempt.attemptsMade + 1;
  const at = { campaign: p.campaign, id: p.id, package: attempt.id };
  const end = (state: string, over: { result: SendJobResult } | { failed: FailedEnd }) => ({
    id: p.id,
    op: 'e' as const,
    state,
    record: finishedRecord(p.stored, at, over),
    event: endEventMembers(over),
  });
  const failed = (state: string, reason: string, tries: number) => ({
    change: end(state, { failed: { reason, attempts: tries } }),
    line: { id: p.id, msgId: null, status: 'failed' as const, error: reason },
  });
  const unsent = (how: 'cancelled' | 'expired' | 'suppressed') => {
    const record = unsentRecord(p.stored, at, how, attempt.attemptsMade);
    const state =
      how === 'cancelled' ? st.cancelled : how === 'expired' ? st.expired : st.suppressed;
    return {
      change: { id: p.id, op: 'e' as const, state, record },
      line: { id: p.id, msgId: null, status: how },
    };
  };
  switch (d.action) {
    case 'complete': {
      const result: SendJobResult = {
        msgId: d.msgId,
        statusCode: 1,
        status: codeName('message', 1),
        sentAt,
        attempts,
        ...(d.recovered ? { recovered: true } : {}),
      };
      return {
        change: end(st.completed(1), { result }),
        line: { id: p.id, msgId: d.msgId, status: 'completed' },
      };
    }
    case 'fail':
      return failed(st.failed(d.code), d.reason, attempts);
    case 'retry':
      if (attempt.last) return failed(st.failed(d.code), d.reason, attempts);
      return { change: { id: p.id, op: 'r', state: st.delayed } };
    case 'cancel':
      return unsent('cancelled');
    case 'expire':
      return unsent('expired');
    case 'suppress':
      return unsent('suppressed');
    case 'park':
      return { change: { id: p.id, op: 'p', state: st.waiting } };
    case 'hold':
      return { change: { id: p.id, op: 'b', state: st.waiting } };
    case 'ended': {
      const r = d.record;
      const line: PackageMessageResult | undefined = r?.result
        ? { id: p.id, msgId: r.result.msgId, status: 'completed' }
        : r?.failed
          ? { id: p.id, msgId: null, status: 'failed', error: r.failed.reason }
          : undefined;
      return { change: { id: p.id, op: 'g', state: '' }, ...(line ? { line } : {}) };
    }
    default:
      return { change: { id: p.id, op: 'k', state: st.waiting } };
  }
}

export async function settle(
  items: Pending[],
  decisions: Map<Pending, Decision>,
  attempt: PackageAttempt,
  ctx: BatchContext,
  report: BatchReport,
): Promise<Settled> {
  const now = Date.now();
  const sentAt = new Date(now).toISOString();
  const changes: PackageChange[] = [];
  const messages: PackageMessageResult[] = [];
  let retryReason: string | undefined;
  let kept = false;
  for (const p of items) {
    const d = decisions.get(p) as Decision;
    const { change, line } = changeOf(p, d, attempt, sentAt);
    changes.push(change);
    if (line && d.action !== 'ended') messages.push(line);
    if (change.op === 'r') retryReason ??= d.action === 'retry' ? d.reason : undefined;
    if (change.op === 'k') kept = true;
    count(report, d, change);
  }
  let left: number;
  try {
    left = await ctx.store.packages.settle(
      attempt.campaign,
      attempt.id,
      changes,
      now,
      ctx.tracking && {
        firstDue: now + ctx.tracking.afterMs,
        until: now + ctx.tracking.horizonMs,
      },
    );
  } catch (err) {
    ctx.logger.error(
      { err: (err as Error).message, package: attempt.id },
      'could not record outcomes; the package will stall and be sent again',
    );
    return { recorded: false, left: items.length, kept: false, retryReason, messages: [] };
  }
  return { recorded: true, left, kept, retryReason, messages };
}

/** The batch report's tally of one decision. */
function count(report: BatchReport, d: Decision, change: PackageChange): void {
  switch (d.action) {
    case 'complete':
      report.completed++;
      if (d.recovered) report.recovered++;
      return;
    case 'fail':
      report.failed++;
      return;
    case 'retry':
      if (change.op === 'e') report.failed++;
      else report.retried++;
      return;
    case 'cancel':
      report.cancelled++;
      return;
    case 'expire':
      report.expired++;
      return;
    case 'suppress':
      report.suppressed++;
      return;
    case 'park':
      report.parked++;
      return;
    case 'hold':
      report.held++;
      return;
    case 'ended':
      return;
    default:
      report.requeued++;
  }
}
