/**
 * One enqueue call: rows are validated (pure) and enqueued a chunk at a time, so that a file of
 * any size streams through bounded memory. Each chunk is one Lua call (dedupe by id, state,
 * counts, the message's record kept for the dispatcher, which moves its id into a package). A
 * chunk is all or nothing: after a failure, running the same input again adds what is missing
 * and reports the rest as duplicates.
 *
 * A dry run reads and reports the same and writes nothing: each chunk's ids are looked up (the
 * proofs the enqueue script takes: queued, finished, or a state in this campaign), and an id an
 * earlier row of the input had is a duplicate as it would have been.
 */
import type { Redis } from 'ioredis';
import {
  CampaignPurgingError,
  hasCode,
  InvalidOptionError,
  RedisUnavailableError,
} from '../errors.js';
import { compact, sharedSet, type SharedSet } from '../campaign/shared.js';
import { suppressedRecord } from '../campaign/records.js';
import type { CampaignStore } from '../campaign/store.js';
import type { TimingSettings } from '../campaign/timing.js';
import type { SendJobData } from '../job.js';
import type { ViberMessage } from '../message.js';
import type { OwnedRedis } from '../redis.js';
import type { ResolvedProducerOptions } from './options.js';
import { Report, reportedId, type EnqueueProgress, type EnqueueResult } from './report.js';
import { validateMessage, type MessageDefaults } from './validate.js';
import { isTemplate, templateProblem } from './template.js';

/** One input item with where it came from: a file line, or an index for library calls. */
export interface InputRow {
  /** 1-based line (file) or position (array) of the row, for error reports. */
  line: number;
  /** The row's fields, or the reason it could not be read at all. */
  value?: unknown;
  error?: string;
}

/**
 * Enqueue options. The timing settings (at, window, tz, expires, priority, weight, campaignRate;
 * see TimingSettings) belong to the campaign: every call for it shares them, and a later call that
 * gives one changes it.
 */
export interface EnqueueOptions extends TimingSettings {
  /** Campaign-wide values rows may leave out. */
  defaults?: MessageDefaults;
  /** Called after each chunk. */
  onProgress?: (p: EnqueueProgress) => void;
  /**
   * Validate, normalise and report every row as an enqueue would — new, duplicate, rejected —
   * and write nothing to Redis.
   * @defaultValue false
   */
  dryRun?: boolean;
}

export type Source<T> = Iterable<T> | AsyncIterable<T>;

/** What an enqueue runs on: the producer's connection and settings. */
export interface EnqueueContext {
  store: CampaignStore;
  redis: OwnedRedis;
  /** Replicas each chunk waits for (WAIT); 0: none. */
  replicas: number;
  options: ResolvedProducerOptions;
}

/** Chunks claimed or being added at once, per enqueue call. */
const IN_FLIGHT = 3;

/** A valid message and the line it came from. */
interface Item {
  message: ViberMessage;
  line: number;
}

export async function enqueueRows(
  ctx: EnqueueContext,
  campaign: string,
  rows: Source<InputRow>,
  options: EnqueueOptions,
): Promise<EnqueueResult> {
  const { store, options: po } = ctx;
  const dryRun = options.dryRun === true;
  const defaults = options.defaults ?? {};
  for (const [field, flag] of [
    ['text', 'text'],
    ['url', 'url'],
    ['smsText', 'sms-text'],
  ] as const) {
    const problem = isTemplate(defaults[field]) ? templateProblem(defaults[field]) : undefined;
    if (problem)
      throw new InvalidOptionError(
        `the campaign's ${field} (--${flag}): ${problem}; nothing enqueued`,
      );
  }
  // A personalised field is each message's own once filled: the shared set does not carry it.
  const shared = sharedSet({
    ...defaults,
    text: isTemplate(defaults.text) ? undefined : defaults.text,
    url: isTemplate(defaults.url) ? undefined : defaults.url,
    smsText: isTemplate(defaults.smsText) ? undefined : defaults.smsText,
  });
  if (!dryRun) {
    // Before any message is claimed: a dispatcher must never see the campaign without its
    // timing; likewise the shared fields and the job opts, before any message that needs them.
    await store.schedule.apply(campaign, options);
    if (shared) await store.saveShared(shared.hash, shared.json);
    await store.setJobOpts(campaign, jobOpts(po));
  }
  const report = new Report(campaign, dryRun, po.maxReportedRejects);
  const result = report.result;
  // A dry run's own dedupe within the input (the enqueue script's, for a real one).
  const seen = dryRun ? new Set<number>() : undefined;
  let rowCount = 0;
  let chunk: Item[] = [];
  const progress = (): void => options.onProgress?.(report.progress(rowCount));
  // Pipelined: a full chunk is sent at once, while the next chunks are read and validated and
  // their calls queue behind it in Redis — the JS thread never waits for Redis unless IN_FLIGHT
  // chunks are under way (that bounds memory). Redis runs them in order, so an id repeated in a
  // later chunk is found queued by the earlier one's call.
  const inFlight: Array<Promise<void>> = [];
  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return;
    while (inFlight.length >= IN_FLIGHT) await inFlight.shift(); // errors surface in order
    const items = chunk;
    chunk = [];
    const added = (async () => {
      const n = seen
        ? await checkChunk(store, campaign, items, report, seen)
        : await enqueueChunk(ctx, campaign, items, report, shared);
      result.enqueued += n;
      progress();
    })();
    added.catch(() => undefined); // awaited (and thrown) in order; never unhandled meanwhile
    inFlight.push(added);
  };
  for await (const row of rows) {
    rowCount++;
    if (row.error !== undefined) {
      report.reject({ line: row.line, errors: [{ field: '(row)', rule: row.error }] });
      continue;
    }
    const v = validateMessage(row.value, options.defaults, po.limits);
    if (v.ok) {
      chunk.push({ message: v.message, line: row.line });
      if (v.phoneRewritten) result.phonesRewritten++;
    } else report.reject({ line: row.line, id: reportedId(row.value), errors: v.problems });
    if (chunk.length >= po.chunkSize) await flush();
  }
  await flush();
  for (const added of inFlight) await added;
  progress();
  return result;
}

/** The BullMQ job opts of this producer's messages (stored per campaign, see setJobOpts). */
function jobOpts(po: ResolvedProducerOptions): string {
  return JSON.stringify({
    attempts: po.attempts,
    backoff: { type: 'exponential', delay: po.backoffMs, jitter: 0.5 },
  });
}

/** Enqueues a chunk in one call; resolves with how many were new (the rest are duplicates). */
async function enqueueChunk(
  ctx: EnqueueContext,
  campaign: string,
  items: Item[],
  report: Report,
  shared: SharedSet | undefined,
): Promise<number> {
  // One command a chunk: which phones are on the suppression list.
  const suppressed = await wrap(
    campaign,
    report,
    ctx.store.suppressedOf(items.map((i) => i.message.phone)),
  );
  const entries = items.map(({ message: m }, i): [number, string, boolean] => {
    const stored = shared ? compact(m, shared) : undefined;
    const data: SendJobData = stored?.shares
      ? { campaign, message: stored.message, shared: (shared as SharedSet).hash }
      : { campaign, message: m };
    return suppressed[i]
      ? [m.id, suppressedRecord(data), true]
      : [m.id, JSON.stringify(data), false];
  });
  const outcomes = await wrap(campaign, report, ctx.store.enqueue(campaign, entries));
  if (ctx.replicas > 0) await wrap(campaign, report, replicated(ctx, ctx.replicas));
  let added = 0;
  outcomes.forEach((o, i) => {
    const { message, line } = items[i] as Item;
    if (o === 'new') {
      added++;
      report.fallback(message.smsText);
    } else if (o === 'suppressed') report.result.suppressed++;
    else report.duplicate({ line, id: message.id, of: o === 'duplicate' ? 'queue' : 'input' });
  });
  return added;
}

/** A dry run's chunk: which ids an enqueue would take; resolves with how many. */
async function checkChunk(
  store: CampaignStore,
  campaign: string,
  items: Item[],
  report: Report,
  seen: Set<number>,
): Promise<number> {
  const [taken, suppressed] = await wrap(
    campaign,
    report,
    Promise.all([
      store.taken(
        campaign,
        items.map((i) => i.message.id),
      ),
      store.suppressedOf(items.map((i) => i.message.phone)),
    ]),
  );
  let fresh = 0;
  items.forEach(({ message, line }, i) => {
    const id = message.id;
    if (seen.has(id)) report.duplicate({ line, id, of: 'input' });
    else if (taken[i]) report.duplicate({ line, id, of: 'queue' });
    else if (suppressed[i]) report.result.suppressed++;
    else {
      fresh++;
      report.fallback(message.smsText);
    }
    seen.add(id);
  });
  return fresh;
}

/** Waits until `n` replicas hold everything this connection wrote (the chunk, its claim). */
async function replicated(ctx: EnqueueContext, n: number): Promise<void> {
  const ms = ctx.options.waitReplicasTimeoutMs;
  const acked = await (ctx.redis.client as Redis).wait(n, ms);
  if (acked < n) {
    throw new Error(
      `${acked} of ${n} replica(s) acknowledged the chunk within ${ms} ms: it could be lost in a failover`,
    );
  }
}

/** Redis failures mid-enqueue say how far it got and how to finish. */
async function wrap<T>(campaign: string, report: Report, work: Promise<T>): Promise<T> {
  const { enqueued } = report.result;
  try {
    return await work;
  } catch (err) {
    if (hasCode(err, 'CAMPAIGN_PURGING')) {
      throw new CampaignPurgingError(
        `enqueue of campaign ${campaign} stopped after ${enqueued} messages: ${(err as Error).message}. ` +
          'Nothing of the refused chunk was written.',
        { cause: err },
      );
    }
    throw new RedisUnavailableError(
      `enqueue of campaign ${campaign} stopped after ${enqueued} messages: ${(err as Error).message}. ` +
        'Run the same input again: what was enqueued is reported as duplicate, the rest is added.',
      { cause: err },
    );
  }
}
