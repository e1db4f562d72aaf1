/**
 * The producer: validates messages and enqueues them, a chunk at a time, so that a file of any size
 * streams through bounded memory. Each chunk is: validate (pure) → one Lua call (dedupe by id,
 * state, counts, the message's record kept for the dispatcher, which moves its id into a
 * package, whose BullMQ job carries no message). A chunk is all or nothing: after a failure, running the same input again adds
 * what is missing and reports the rest as duplicates.
 */
import { purgeCampaign, purgeFinished, type PurgeOptions } from '../campaign/purge.js';
import { Queue } from 'bullmq';
import {
  CampaignPurgingError,
  hasCode,
  InvalidOptionError,
  RedisUnavailableError,
  type FieldProblem,
} from '../errors.js';
import {
  checkTiming,
  timingView,
  type ScheduleView,
  type TimingSettings,
} from '../campaign/timing.js';
import { compact, sharedSet, type SharedSet } from '../campaign/shared.js';
import type { SendJobData } from '../job.js';
import type { ViberMessage } from '../message.js';
import { Cluster, type Redis } from 'ioredis';
import { closeRedis, openRedis, type OwnedRedis, type RedisClient } from '../redis.js';
import { checkTimingKeys } from '../campaign/schedule.js';
import { assertCampaignName, CampaignStore } from '../campaign/store.js';
import {
  cancelCampaign,
  pauseCampaign,
  resumeCampaign,
  retryFailedCampaign,
} from '../campaign/controls.js';
import {
  resolveProducerOptions,
  type ProducerOptions,
  type ResolvedProducerOptions,
} from './options.js';
import { validateMessage, type MessageDefaults } from './validate.js';
import { reportedId } from './report.js';

/** One input item with where it came from: a file line, or an index for library calls. */
export interface InputRow {
  /** 1-based line (file) or position (array) of the row, for error reports. */
  line: number;
  /** The row's fields, or the reason it could not be read at all. */
  value?: unknown;
  error?: string;
}

export interface RejectedRow {
  line: number;
  /**
   * Its id as the input gave it: a number, or a string of at most 100 characters
   * (longer ones end in `… (N characters)`); a non-scalar id is named by its type, `(object)`.
   */
  id?: number | string;
  errors: FieldProblem[];
}

export interface EnqueueResult {
  campaign: string;
  /** Messages added to the queue by this call. */
  enqueued: number;
  /** Messages whose id was already queued (earlier call, other campaign, or earlier in this input). */
  duplicates: number;
  /** Their ids, in input order (the first `maxReportedRejects`). */
  duplicateIds: number[];
  /** Rows that failed validation, with every problem (the first `maxReportedRejects`). */
  rejected: RejectedRow[];
  /** All rejected rows, counted. */
  rejectedCount: number;
  /**
   * Valid rows whose phone was written another way (`097 123 45 67`, `+38 (097) 123-45-67`) and
   * is stored and sent in international form (`+380971234567`).
   */
  phonesRewritten: number;
}

export interface EnqueueProgress {
  rows: number;
  enqueued: number;
  duplicates: number;
  rejected: number;
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
}

type Source<T> = Iterable<T> | AsyncIterable<T>;

/** Chunks claimed or being added at once, per enqueue call. */
const IN_FLIGHT = 3;

export class Producer {
  readonly options: ResolvedProducerOptions;
  private readonly ready: Promise<{
    redis: OwnedRedis;
    queue: Queue;
    store: CampaignStore;
    /** Replicas each chunk waits for (WAIT); 0: none. */
    replicas: number;
  }>;
  private closing: Promise<void> | undefined;

  constructor(opts: ProducerOptions = {}) {
    this.options = resolveProducerOptions(opts);
    this.ready = this.open();
    // Surface the failure through the first call, not as an unhandled rejection.
    this.ready.catch(() => {});
  }

  private async open() {
    const redis = await openRedis(this.options.connection, 'producer');
    const queue = new Queue<SendJobData>(this.options.queueName, {
      connection: redis.client,
      prefix: this.options.prefix,
    });
    queue.on('error', () => {}); // failures reach the caller through the awaited calls
    const replicas = await replicasToWaitFor(redis.client, this.options.waitReplicas);
    return { redis, queue, store: new CampaignStore(redis.client, queue.toKey('')), replicas };
  }

  /** The queue and store, once connected. */
  async connection(): Promise<{ queue: Queue; store: CampaignStore }> {
    const { queue, store } = await this.ready;
    return { queue, store };
  }

  /**
   * Enqueues messages for a campaign. `messages` may be an array or any (async) iterable; it is read
   * a chunk at a time. Invalid messages are reported (never enqueued), duplicates are reported.
   */
  async enqueue(
    campaign: string,
    messages: Source<unknown>,
    options: EnqueueOptions = {},
  ): Promise<EnqueueResult> {
    return this.enqueueRows(campaign, numbered(messages), options);
  }

  /** As enqueue, for rows that carry their own line numbers (files). */
  async enqueueRows(
    campaign: string,
    rows: Source<InputRow>,
    options: EnqueueOptions = {},
  ): Promise<EnqueueResult> {
    assertCampaignName(campaign);
    checkTiming(options);
    const { store, redis, replicas } = await this.ready;
    // Before any message is claimed: a dispatcher must never see the campaign without its timing.
    await store.schedule.apply(campaign, options);
    // Likewise the shared fields and the job opts, before any message that needs them.
    const shared = sharedSet(options.defaults);
    if (shared) await store.saveShared(shared.hash, shared.json);
    await store.setJobOpts(campaign, this.jobOpts);
    const result: EnqueueResult = {
      campaign,
      enqueued: 0,
      duplicates: 0,
      duplicateIds: [],
      rejected: [],
      rejectedCount: 0,
      phonesRewritten: 0,
    };
    const max = this.options.maxReportedRejects;
    const reject = (r: RejectedRow): void => {
      result.rejectedCount++;
      if (result.rejected.length < max) result.rejected.push(r);
    };
    let rowCount = 0;
    let chunk: ViberMessage[] = [];
    const progress = (): void =>
      options.onProgress?.({
        rows: rowCount,
        enqueued: result.enqueued,
        duplicates: result.duplicates,
        rejected: result.rejectedCount,
      });
    // Pipelined: a full chunk is sent at once, while the next chunks are read and validated and
    // their calls queue behind it in Redis — the JS thread never waits for Redis unless IN_FLIGHT
    // chunks are under way (that bounds memory). Redis runs them in order, so an id repeated in a
    // later chunk is found queued by the earlier one's call.
    const inFlight: Array<Promise<void>> = [];
    const flush = async (): Promise<void> => {
      if (chunk.length === 0) return;
      while (inFlight.length >= IN_FLIGHT) await inFlight.shift(); // errors surface in order
      const messages = chunk;
      chunk = [];
      const added = (async () => {
        const n = await this.enqueueChunk(campaign, messages, store, result, shared);
        if (replicas > 0) await this.wrap(campaign, result, this.replicated(redis, replicas));
        result.enqueued += n;
        progress();
      })();
      added.catch(() => undefined); // awaited (and thrown) in order; never unhandled meanwhile
      inFlight.push(added);
    };
    for await (const row of rows) {
      rowCount++;
      if (row.error !== undefined) {
        reject({ line: row.line, errors: [{ field: '(row)', rule: row.error }] });
        continue;
      }
      const v = validateMessage(row.value, options.defaults, this.options.limits);
      if (v.ok) {
        chunk.push(v.message);
        if (v.phoneRewritten) result.phonesRewritten++;
      } else reject({ line: row.line, id: reportedId(row.value), errors: v.problems });
      if (chunk.length >= this.options.chunkSize) await flush();
    }
    await flush();
    for (const added of inFlight) await added;
    progress();
    return result;
  }

  private countDuplicate(result: EnqueueResult, id: number): void {
    result.duplicates++;
    if (result.duplicateIds.length < this.options.maxReportedRejects) result.duplicateIds.push(id);
  }

  /** The BullMQ job opts of this producer's messages (stored per campaign, see setJobOpts). */
  private get jobOpts(): string {
    const { attempts, backoffMs } = this.options;
    return JSON.stringify({
      attempts,
      backoff: { type: 'exponential', delay: backoffMs, jitter: 0.5 },
    });
  }

  /** Enqueues a chunk in one call; resolves with how many were new (the rest are duplicates). */
  private async enqueueChunk(
    campaign: string,
    messages: ViberMessage[],
    store: CampaignStore,
    result: EnqueueResult,
    shared: SharedSet | undefined,
  ): Promise<number> {
    const entries = messages.map((m): [number, string] => {
      const stored = shared ? compact(m, shared) : undefined;
      const data: SendJobData = stored?.shares
        ? { campaign, message: stored.message, shared: (shared as SharedSet).hash }
        : { campaign, message: m };
      return [m.id, JSON.stringify(data)];
    });
    const outcomes = await this.wrap(campaign, result, store.enqueue(campaign, entries));
    let added = 0;
    outcomes.forEach((o, i) => {
      if (o === 'new') added++;
      else this.countDuplicate(result, (messages[i] as ViberMessage).id);
    });
    return added;
  }

  /** Waits until `n` replicas hold everything this connection wrote (the chunk, its claim). */
  private async replicated(redis: OwnedRedis, n: number): Promise<void> {
    const ms = this.options.waitReplicasTimeoutMs;
    const acked = await (redis.client as Redis).wait(n, ms);
    if (acked < n) {
      throw new Error(
        `${acked} of ${n} replica(s) acknowledged the chunk within ${ms} ms: it could be lost in a failover`,
      );
    }
  }

  /** Redis failures mid-enqueue say how far it got and how to finish. */
  private async wrap<T>(campaign: string, result: EnqueueResult, work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (err) {
      if (hasCode(err, 'CAMPAIGN_PURGING')) {
        throw new CampaignPurgingError(
          `enqueue of campaign ${campaign} stopped after ${result.enqueued} messages: ${(err as Error).message}. ` +
            'Nothing of the refused chunk was written.',
          { cause: err },
        );
      }
      throw new RedisUnavailableError(
        `enqueue of campaign ${campaign} stopped after ${result.enqueued} messages: ${(err as Error).message}. ` +
          'Run the same input again: what was enqueued is reported as duplicate, the rest is added.',
        { cause: err },
      );
    }
  }

  /**
   * Pauses a campaign: its messages are not sent until resume (other campaigns keep flowing).
   * Messages already in a package being sent finish. Returns how many of its messages are
   * paused now.
   */
  async pause(campaign: string): Promise<number> {
    return pauseCampaign((await this.ready).store, campaign);
  }

  /** Resumes a paused campaign where it stopped. Returns how many messages were resumed. */
  async resume(campaign: string): Promise<number> {
    return resumeCampaign((await this.ready).store, campaign);
  }

  /**
   * Cancels what is not sent yet; what the gateway accepted stays accepted. Returns how many of
   * its messages are cancelled now (what `status` shows once the packages in flight finish).
   */
  async cancel(campaign: string): Promise<number> {
    return cancelCampaign((await this.ready).store, campaign);
  }

  /**
   * Queues a campaign's failed messages again (all, or those that failed with one of `codes`),
   * with their ids and fresh attempts. Returns how many.
   */
  async retryFailed(campaign: string, codes?: readonly number[]): Promise<number> {
    const { store, queue } = await this.ready;
    return retryFailedCampaign(store, queue, campaign, codes);
  }

  /**
   * Changes a live campaign's timing (TimingSettings: a field left out is kept, null clears it).
   * Takes effect for every worker at once: the dispatcher and the activate step read it as each
   * package goes on the wire. Returns the campaign's schedule as it is now.
   */
  async schedule(campaign: string, settings: TimingSettings): Promise<ScheduleView> {
    assertCampaignName(campaign);
    checkTimingKeys(settings);
    checkTiming(settings);
    const { store } = await this.ready;
    if ((await store.counts(campaign)).total === 0) {
      throw new InvalidOptionError(`campaign ${campaign} has no messages on this queue`);
    }
    await store.schedule.apply(campaign, settings);
    return timingView(
      await store.schedule.timing(campaign),
      await store.schedule.deadline(campaign),
    );
  }

  /**
   * Removes a finished campaign from Redis: its jobs, states, counts and tracking; the memory
   * comes back and so do its ids. Export its results first. Refuses a campaign with messages
   * still to send or being tracked unless `force` (it is cancelled first). Returns how many
   * messages were removed.
   */
  async purge(campaign: string, opts: PurgeOptions = {}): Promise<number> {
    const { store, queue } = await this.ready;
    return purgeCampaign(store, queue, campaign, opts);
  }

  /**
   * Purges every campaign that finished more than `olderThanMs` ago and is no longer tracked.
   * Returns what it removed.
   */
  async purgeFinished(olderThanMs: number): Promise<Array<{ campaign: string; removed: number }>> {
    const { store, queue } = await this.ready;
    return purgeFinished(store, queue, olderThanMs);
  }

  /** Closes what the producer opened; a connection you passed in stays open. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      let state;
      try {
        state = await this.ready;
      } catch {
        return; // never connected: nothing to close
      }
      try {
        await state.queue.close();
      } finally {
        if (state.redis.owned) await closeRedis(state.redis.client).catch(() => undefined);
      }
    })();
    return this.closing;
  }
}

async function* numbered(messages: Source<unknown>): AsyncGenerator<InputRow> {
  let line = 0;
  for await (const value of messages) yield { line: ++line, value };
}

/** `auto`: one replica when the primary has one connected (Sentinel setups), else none. */
async function replicasToWaitFor(client: RedisClient, wanted: number | 'auto'): Promise<number> {
  if (client instanceof Cluster) return 0; // WAIT is per node: not used on a cluster
  if (wanted !== 'auto') return wanted;
  const info = await client.info('replication');
  const connected = Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? 0);
  return /role:master/.test(info) && connected > 0 ? 1 : 0;
}
