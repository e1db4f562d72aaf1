/**
 * The store's side of a purge (purge.ts decides what to purge and in which order): the purging
 * mark, set in one step with the check that the campaign may go (purgeBegin-3.lua), and the
 * removal of its messages' data, records, tracking, packages and, last, the campaign's own keys and mark.
 */
import { fallbackCampaign } from '../fallback.js';
import { defineCommands } from '../commands/index.js';
import type { QueueKeys } from '../keys.js';
import type { RedisClient } from '../redis.js';

interface PurgeCommands {
  vbPurgeBegin(...args: (string | number)[]): Promise<Array<string | number>>;
  vbPurgePackages(...args: (string | number)[]): Promise<string[]>;
}

export class PurgeStore {
  private readonly redis: RedisClient & PurgeCommands;

  constructor(
    redis: RedisClient,
    private readonly keys: QueueKeys,
  ) {
    defineCommands(redis);
    this.redis = redis as RedisClient & PurgeCommands;
  }

  /**
   * Marks the campaign as being purged if it may be, in one step with the check: returns the
   * counts that forbid it (empty when marked). `active` always forbids; without `force`, messages
   * waiting, delayed, paused or being tracked do too — its own or its SMS fallbacks', which are
   * marked with it (src/fallback.ts).
   */
  async begin(campaign: string, force: boolean): Promise<Record<string, number>> {
    const sms = fallbackCampaign(campaign);
    const flat = await this.redis.vbPurgeBegin(
      this.keys.counts(campaign),
      this.keys.counts(sms),
      this.keys.purging,
      campaign,
      sms,
      force ? '1' : '0',
    );
    const out: Record<string, number> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = Number(flat[i + 1]);
    return out;
  }

  /** True while a purge of the campaign is under way (or stopped halfway). */
  async purging(campaign: string): Promise<boolean> {
    return (await this.redis.hexists(this.keys.purging, campaign)) === 1;
  }

  /** Drops what is kept of messages: queued data, finished records (purge). */
  async dropMessages(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    const fields = ids.map(String);
    await this.redis
      .multi()
      .hdel(this.keys.queued, ...fields)
      .hdel(this.keys.done, ...fields)
      .exec();
  }

  /**
   * Drops the campaign's packages (purgePackages-4.lua); returns every package id it had, whose
   * BullMQ jobs the caller removes.
   */
  async dropPackages(campaign: string): Promise<string[]> {
    return this.redis.vbPurgePackages(
      this.keys.campaignPackages(campaign),
      this.keys.packages,
      this.keys.packageList,
      this.keys.inPackages,
    );
  }

  /** Ends the tracking of these ids, if any is tracked (purge). */
  async untrack(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.redis
      .multi()
      .zrem(this.keys.track, ...ids)
      .hdel(this.keys.trackInfo, ...ids.map(String))
      .exec();
  }

  /**
   * Removes what the store keeps of a campaign: states, counts, timeline, control, listing (purge). UNLINK:
   * a million-message state hash is freed in the background, not while Redis serves others.
   */
  async forget(campaign: string): Promise<void> {
    await this.redis
      .multi()
      .unlink(
        this.keys.state(campaign),
        this.keys.counts(campaign),
        this.keys.timeline(campaign),
        this.keys.backlog(campaign),
      )
      .hdel(this.keys.control, campaign)
      .hdel(this.keys.deadlines, campaign)
      .hdel(this.keys.timing, campaign)
      .hdel(this.keys.jobOpts, campaign)
      .hdel(this.keys.gate, campaign)
      .hdel(this.keys.fair, campaign)
      .hdel(this.keys.campaignRate, campaign)
      .srem(this.keys.ready, campaign)
      .zrem(this.keys.sleep, campaign)
      .zrem(this.keys.campaigns, campaign)
      .hdel(this.keys.purging, campaign)
      .exec();
  }
}
