/**
 * The processor of a package job: opens the package (its ids and records, and whether its
 * campaign may send now), runs one attempt at it (runBatch), and ends the job as the attempt
 * left it — through BullMQ's public API only:
 *
 *   every id settled            -> the job completes; its return value lists each message's end
 *   ... none accepted, some failed -> the job fails (UnrecoverableError) with their reasons; its
 *                                  progress lists each message's end
 *   ids retried (transient)     -> the job throws: BullMQ's attempts and backoff send it again
 *   ids kept (shutdown, halt)   -> job.moveToWait: back to the wait list, no attempt used
 *   outcomes not written        -> WaitingError: left to its lock, it comes back as stalled
 *   no such package             -> completes empty (settled before a crash, given back, purged)
 *   a job id not a package's    -> fails alone, FOREIGN_JOB
 */
import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import { PACKAGE_ID } from '../keys.js';
import type { PackageJobData, PackageJobResult, PackageMessageResult } from '../job.js';
import { runBatch } from './batch.js';
import type { BatchContext, BatchReport, PackageAttempt, Pending } from './pending.js';

export type PackageJob = Job<PackageJobData, PackageJobResult>;

/** What earlier attempts ended, kept on the job's progress (BullMQ's public updateProgress). */
interface Progress {
  messages?: PackageMessageResult[];
}

export async function processPackage(
  job: PackageJob,
  token: string | undefined,
  ctx: BatchContext,
  onReport: (r: BatchReport) => void,
): Promise<PackageJobResult> {
  const id = job.id ?? '';
  if (!PACKAGE_ID.test(id)) {
    throw new UnrecoverableError(
      `job ${JSON.stringify(id.slice(0, 40))} names no package of this queue: not sent (FOREIGN_JOB)`,
    );
  }
  const earlier = ((job.progress as Progress | undefined)?.messages ?? []).slice();
  const opened = await ctx.store.packages.open(id);
  if (!opened) return { messages: earlier };
  const seen = new Set<number>();
  const items: Pending[] = [];
  for (const m of opened.messages) {
    if (seen.has(m.id)) continue;
    seen.add(m.id);
    items.push({ id: m.id, campaign: opened.campaign, raw: m.record });
  }
  const attempt: PackageAttempt = {
    id,
    campaign: opened.campaign,
    attemptsMade: job.attemptsMade,
    last: job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
    held: opened.held,
  };
  const { report, settled } = await runBatch(items, attempt, ctx);
  onReport(report);
  if (!settled.recorded) throw new WaitingError();
  const messages = earlier.concat(settled.messages);
  if (settled.left === 0) {
    const failed = messages.filter((m) => m.status === 'failed');
    if (failed.length === 0 || messages.some((m) => m.status === 'completed')) return { messages };
    await job.updateProgress({ messages } satisfies Progress);
    throw new UnrecoverableError(failureSummary(failed));
  }
  if (settled.messages.length > 0) await job.updateProgress({ messages } satisfies Progress);
  if (settled.kept) {
    await job.moveToWait(token);
    throw new WaitingError();
  }
  throw new Error(settled.retryReason ?? 'retried');
}

/** A failed package job's reason: how many failed, and why (the first few reasons, counted). */
function failureSummary(failed: PackageMessageResult[]): string {
  const by = new Map<string, number>();
  for (const m of failed) by.set(m.error ?? 'failed', (by.get(m.error ?? 'failed') ?? 0) + 1);
  const reasons = [...by].slice(0, 3).map(([why, n]) => `${n} × ${why}`);
  const more = by.size > 3 ? `; ${by.size - 3} more reasons` : '';
  return `${failed.length} of the package's messages failed: ${reasons.join('; ')}${more}`;
}
