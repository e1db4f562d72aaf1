/**
 * The producer: validates messages and enqueues them for a campaign (enqueue.ts: a chunk at a
 * time, each chunk one Lua call), and steers campaigns (pause, resume, cancel, retry, schedule,
 * purge). A message never has a BullMQ job of its own: the dispatcher moves its id into a
 * package, whose job carries no message.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import { purgeCampaign, purgeFinished, type PurgeOptions } from '../campaign/purge.js';
import { InvalidOptionError, WaitTimeoutError } from '../errors.js';
import {
  checkTiming,
  timingView,
  type ScheduleView,
  type TimingSettings,
} from '../campaign/timing.js';
import { endedOf, type CampaignCounts } from '../campaign/counts.js';
import type { SendJobData } from '../job.js';
import type { MessageType } from '../message.js';
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
import { enqueueRows, type EnqueueOptions, type InputRow, type Source } from './enqueue.js';
import type { EnqueueResult } from './report.js';
import { SuppressionList } from './suppression.js';

/**
 * A row as the library takes it: `id` and `phone` always; the other fields may come from the
 * campaign's `defaults` instead. Rows are still validated one by one at run time (a file's rows
 * arrive as strings: `id` may be a numeric string).
 */
export interface MessageRow {
  id: number | string;
  phone: string;
  sender?: string;
  type?: MessageType;
  text?: string;
  image?: string;
  button?: string;
  url?: string;
  /** The SMS sent if Viber cannot deliver the message (src/fallback.ts); `{{column}}` as in text. */
  smsText?: string;
  /** The SMS's alpha name; the Viber sender when absent. */
  smsSender?: string;
  /**
   * Values for the `{{column}}` placeholders of the text or the button URL (personalised
   * texts; a file's rows have them as their own columns). Not stored beyond the filled text.
   */
  columns?: Record<string, string | number>;
}

/** What waitUntilFinished waits for. */
export interface WaitOptions {
  /** Rejects (WAIT_TIMEOUT) past this many ms. @defaultValue 60000 */
  timeoutMs?: number;
  /**
   * Also until delivery tracking of the campaign is over, and its SMS fallbacks, if any, are
   * sent and tracked too. @defaultValue false
   */
  tracking?: boolean;
  /** How often the counts are read, ms. @defaultValue 250 */
  everyMs?: number;
}

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

  /**
   * The queue's suppression list (suppression.ts): phones never messaged, normalised as enqueue
   * normalises them (this producer's country).
   */
  async suppressions(): Promise<SuppressionList> {
    const { redis, store } = await this.ready;
    return new SuppressionList(redis.client, store.keys, this.options.limits.country);
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
    messages: Source<MessageRow>,
    options: EnqueueOptions = {},
  ): Promise<EnqueueResult> {
    return this.enqueueRows(campaign, numbered(messages), options);
  }

  /** As enqueue, for rows that carry their own line numbers (files), of any shape. */
  async enqueueRows(
    campaign: string,
    rows: Source<InputRow>,
    options: EnqueueOptions = {},
  ): Promise<EnqueueResult> {
    assertCampaignName(campaign);
    checkTiming(options);
    const { store, redis, replicas } = await this.ready;
    return enqueueRows({ store, redis, replicas, options: this.options }, campaign, rows, options);
  }

  /**
   * Resolves with the campaign's counts once nothing of it waits or is on the wire (every
   * message accepted or ended: `finishedAt` is set) — with `tracking`, once its delivery
   * tracking is over too, its SMS fallbacks' included. Rejects with WAIT_TIMEOUT after `timeoutMs`, and at once for a
   * campaign with no messages.
   */
  async waitUntilFinished(campaign: string, opts: WaitOptions = {}): Promise<CampaignCounts> {
    assertCampaignName(campaign);
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const everyMs = opts.everyMs ?? 250;
    const { store } = await this.ready;
    const until = Date.now() + timeoutMs;
    for (;;) {
      const c = await store.counts(campaign);
      if (c.total === 0) {
        throw new InvalidOptionError(`campaign ${campaign} has no messages on this queue`);
      }
      const sent = c.finishedAt !== null;
      // Its SMS fallbacks are made as tracking ends, then sent and tracked themselves.
      const following = c.delivery.tracking + c.sms.waiting + c.sms.paused + c.sms.tracking;
      if (sent && (!opts.tracking || following === 0)) return c;
      if (Date.now() + everyMs > until) {
        const what = sent ? 'its delivery tracking to end' : 'its messages to be sent';
        throw new WaitTimeoutError(
          `campaign ${campaign}: waited ${timeoutMs} ms for ${what}; ${endedOf(c)} of ${c.total} sent or ended`,
        );
      }
      await sleep(everyMs);
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
