/**
 * The campaign store: per-campaign message states and counts kept beside BullMQ's own keys, so that
 * a campaign's counts by state and by status code are read in O(1) and an id is claimed once per
 * queue. All writes go through Lua scripts (src/commands); reads are plain hash reads.
 */
import { fallbackCampaign } from '../fallback.js';
import type { RedisClient } from '../redis.js';
import { CampaignPurgingError, InvalidOptionError } from '../errors.js';
import { defineCommands } from '../commands/index.js';
import { QueueKeys } from '../keys.js';
import { DEFAULT_TIMING } from './timing.js';
import { PurgeStore } from './purge-store.js';
import { PackageStore } from './packages.js';
import type { HeldLetter } from './state.js';
import { CampaignSchedule, parseTiming } from './schedule.js';
import { countsOf, type CampaignControl, type CampaignCounts } from './counts.js';
import { readFinished } from './records.js';

const CAMPAIGN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Campaign names end up in Redis keys and CLI output: keep them plain. */
export function assertCampaignName(campaign: string, what = 'campaign'): void {
  if (!CAMPAIGN_NAME.test(campaign)) {
    throw new InvalidOptionError(
      `${what} must be 1..64 characters of letters, digits, '_', '.', '-', starting with a letter or digit (got ${JSON.stringify(campaign)})`,
    );
  }
}

export type EnqueueOutcome = 'new' | 'duplicate' | 'duplicate-in-call' | 'suppressed';
const ENQUEUE_OUTCOMES: Readonly<Record<number, EnqueueOutcome>> = {
  0: 'new',
  2: 'duplicate',
  3: 'duplicate-in-call',
  4: 'suppressed',
};

interface StoreCommands {
  vbEnqueue(...args: (string | number)[]): Promise<number[]>;
  vbRequeue(...args: (string | number)[]): Promise<string[]>;
  vbTransition(...args: (string | number)[]): Promise<string[]>;
  vbActivate(...args: (string | number)[]): Promise<string[]>;
}

export type { HeldLetter };

export class CampaignStore {
  private readonly redis: RedisClient & StoreCommands;
  /** What purges a campaign's keys (purge.ts drives it). */
  readonly purge: PurgeStore;
  /** The packages messages are sent in (dispatcher, worker, reaper). */
  readonly packages: PackageStore;

  /**
   * @param redis a connection this store may define its two scripts on; it does not close it.
   * @param base  the queue's key prefix, e.g. `bull:viber:` (BullMQ's `queue.toKey('')`).
   */
  readonly keys: QueueKeys;
  /** The campaigns' timing: settings, gates, deadlines. */
  readonly schedule: CampaignSchedule;

  constructor(redis: RedisClient, base: string) {
    this.keys = new QueueKeys(base);
    this.schedule = new CampaignSchedule(redis, this.keys);
    this.purge = new PurgeStore(redis, this.keys);
    this.packages = new PackageStore(redis, this.keys);
    defineCommands(redis);
    this.redis = redis as RedisClient & StoreCommands;
  }

  /**
   * Enqueues messages for a campaign in one round trip: each `[id, record JSON]` is deduped by
   * id across the queue and kept until the dispatcher releases it; one outcome per message, in
   * order. A message marked suppressed comes with its finished record instead: it ends at once.
   */
  async enqueue(
    campaign: string,
    messages: ReadonlyArray<readonly [number, string, boolean?]>,
  ): Promise<EnqueueOutcome[]> {
    if (messages.length === 0) return [];
    const args: (string | number)[] = [campaign];
    for (const [id, data, suppressed] of messages) args.push(id, data, suppressed ? 'u' : '');
    let raw: number[];
    try {
      raw = await this.redis.vbEnqueue(
        this.keys.state(campaign),
        this.keys.counts(campaign),
        this.keys.campaigns,
        this.keys.backlog(campaign),
        this.keys.ready,
        this.keys.queued,
        this.keys.done,
        this.keys.purging,
        ...this.keys.outbox,
        ...args,
      );
    } catch (err) {
      if ((err as Error).message.startsWith('PURGING')) {
        throw new CampaignPurgingError(
          `campaign ${campaign} is being purged; enqueue it again once the purge is done`,
          { cause: err },
        );
      }
      throw err;
    }
    return raw.map((r) => ENQUEUE_OUTCOMES[r] ?? 'duplicate');
  }

  /**
   * Queues failed messages again from their finished records (retry-failed); returns the ids
   * that moved, and the packages they had failed in.
   */
  async requeueFailed(
    campaign: string,
    ids: readonly number[],
  ): Promise<{ moved: number[]; packages: Set<string> }> {
    const packages = new Set<string>();
    if (ids.length === 0) return { moved: [], packages };
    // Each record without its end is the message's record again, composed here (Redis edits no
    // JSON); the script moves only messages still failed.
    const records = await this.records(ids);
    const args: (string | number)[] = [campaign];
    ids.forEach((id, i) => {
      const rec = readFinished(records[i]);
      if (!rec?.failed) return;
      const { failed: _failed, result: _result, delivery: _delivery, package: pkg, ...data } = rec;
      if (pkg) packages.add(pkg);
      args.push(id, JSON.stringify(data));
    });
    if (args.length === 1) return { moved: [], packages };
    const moved = await this.redis.vbRequeue(
      this.keys.state(campaign),
      this.keys.counts(campaign),
      this.keys.done,
      this.keys.queued,
      this.keys.backlog(campaign),
      this.keys.ready,
      ...args,
    );
    return { moved: moved.map(Number), packages };
  }

  /** Sets the BullMQ job opts (JSON) the campaign's messages get when they are released. */
  async setJobOpts(campaign: string, opts: string): Promise<void> {
    await this.redis.hset(this.keys.jobOpts, campaign, opts);
  }

  /** The records of messages enqueued and not ended yet (null where ended or unknown). */
  async queuedData(ids: readonly number[]): Promise<Array<string | null>> {
    if (ids.length === 0) return [];
    return this.redis.hmget(this.keys.queued, ...ids.map(String));
  }

  /**
   * Whether each id is taken, by the proofs enqueue's script takes (queued, finished, or a state
   * in this campaign): read only, for a dry run.
   */
  async taken(campaign: string, ids: readonly number[]): Promise<boolean[]> {
    if (ids.length === 0) return [];
    const k = this.keys;
    const pipe = this.redis.pipeline();
    for (const id of ids) {
      pipe.hexists(k.queued, String(id)).hexists(k.done, String(id));
      pipe.hexists(k.state(campaign), String(id));
    }
    const replies = (await pipe.exec()) ?? [];
    const [err] = replies.find(([e]) => e) ?? [];
    if (err) throw err;
    return ids.map((_, i) => [0, 1, 2].some((j) => replies[3 * i + j]?.[1] === 1));
  }

  /** The finished records of these messages (null where a message has none). */
  async records(ids: readonly number[]): Promise<Array<string | null>> {
    if (ids.length === 0) return [];
    return this.redis.hmget(this.keys.done, ...ids.map(String));
  }

  /**
   * Moves messages to new states (state.ts encoding); with `onlyFrom` (state letters, e.g. 'wd')
   * only messages now in one of those states move. Returns the ids that moved.
   */
  async transition(
    campaign: string,
    changes: ReadonlyArray<readonly [number, string]>,
    onlyFrom = '',
  ): Promise<number[]> {
    if (changes.length === 0) return [];
    const args: (string | number)[] = [onlyFrom, campaign];
    for (const [id, st] of changes) args.push(id, st);
    const moved = await this.redis.vbTransition(
      this.keys.state(campaign),
      this.keys.counts(campaign),
      ...this.keys.outbox,
      ...args,
    );
    return moved.map(Number);
  }

  /**
   * Marks messages active before they are sent, except those of a campaign that may not send now
   * (or already moved by a pause or cancel): those are returned with their HeldLetter and must
   * not be sent.
   */
  async activate(campaign: string, ids: readonly number[]): Promise<Map<number, HeldLetter>> {
    const held = new Map<number, HeldLetter>();
    if (ids.length === 0) return held;
    const flat = await this.redis.vbActivate(
      this.keys.state(campaign),
      this.keys.counts(campaign),
      this.keys.control,
      this.keys.deadlines,
      this.keys.gate,
      campaign,
      ...ids,
    );
    for (let i = 0; i + 1 < flat.length; i += 2)
      held.set(Number(flat[i]), flat[i + 1] as HeldLetter);
    return held;
  }

  /** Which of these phones (E.164) are on the queue's suppression list: one command. */
  async suppressedOf(phones: readonly string[]): Promise<boolean[]> {
    if (phones.length === 0) return [];
    const hits = await this.redis.smismember(this.keys.suppressed, ...phones);
    return hits.map((h) => h === 1);
  }

  /** Stores a shared set once (content-addressed: a set with this hash is this set). */
  async saveShared(hash: string, json: string): Promise<void> {
    await this.redis.hsetnx(this.keys.shared, hash, json);
  }

  /** Raw stored states of some messages, in one round trip (undefined: not in the campaign). */
  async statesOf(campaign: string, ids: readonly number[]): Promise<Array<string | undefined>> {
    if (ids.length === 0) return [];
    const raw = await this.redis.hmget(this.keys.state(campaign), ...ids.map(String));
    return raw.map((v) => v ?? undefined);
  }

  /**
   * Sets (or clears, with undefined) a campaign's control: paused or cancelled. A resume or a
   * cancel wakes the campaign for the dispatcher (a paused one sleeps outside its ready set).
   */
  async setControl(campaign: string, control: CampaignControl | undefined): Promise<void> {
    const m = this.redis.multi();
    if (control) m.hset(this.keys.control, campaign, control);
    else m.hdel(this.keys.control, campaign);
    // Its SMS fallbacks (src/fallback.ts) wake with it.
    if (control !== 'paused') this.schedule.wake(m, campaign);
    await m.exec();
  }

  /** A campaign's counts, O(1): one HGETALL of a hash with a handful of fields. */
  async counts(campaign: string): Promise<CampaignCounts> {
    const [raw, control, timingRaw, deadline, sms] = await Promise.all([
      this.redis.hgetall(this.keys.counts(campaign)),
      this.redis.hget(this.keys.control, campaign),
      this.redis.hget(this.keys.timing, campaign),
      this.redis.hget(this.keys.deadlines, campaign),
      this.redis.hgetall(this.keys.counts(fallbackCampaign(campaign))),
    ]);
    const timing = timingRaw === null ? { ...DEFAULT_TIMING } : parseTiming(timingRaw);
    return countsOf(
      campaign,
      raw,
      control,
      timing,
      deadline === null ? undefined : Number(deadline),
      Date.now(),
      sms,
    );
  }

  /** Known campaigns, oldest first. */
  async campaigns(): Promise<string[]> {
    return this.redis.zrange(this.keys.campaigns, 0, -1);
  }

  /** Known campaigns with when each was first enqueued (ms), newest first. */
  async campaignsByAge(): Promise<Array<{ campaign: string; enqueuedAt: number }>> {
    const flat = await this.redis.zrange(this.keys.campaigns, 0, -1, 'REV', 'WITHSCORES');
    const out: Array<{ campaign: string; enqueuedAt: number }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2)
      out.push({ campaign: flat[i] as string, enqueuedAt: Math.floor(Number(flat[i + 1]) / 1000) });
    return out;
  }

  /** When a campaign was first enqueued (ms), or null if the queue does not know it. */
  async enqueuedAt(campaign: string): Promise<number | null> {
    const score = await this.redis.zscore(this.keys.campaigns, campaign);
    return score === null ? null : Math.floor(Number(score) / 1000);
  }

  /**
   * A campaign's messages accepted and delivered per minute (minute start, ms), in minute order:
   * O(minutes it sent or was delivered in), never O(messages).
   */
  async timeline(
    campaign: string,
  ): Promise<Array<{ at: number; accepted: number; delivered: number }>> {
    const raw = await this.redis.hgetall(this.keys.timeline(campaign));
    const by = new Map<number, { at: number; accepted: number; delivered: number }>();
    for (const [field, v] of Object.entries(raw)) {
      const m = /^([ad]):(\d+)$/.exec(field);
      if (!m) continue;
      const at = Number(m[2]) * 60_000;
      const row = by.get(at) ?? { at, accepted: 0, delivered: 0 };
      if (m[1] === 'a') row.accepted += Number(v);
      else row.delivered += Number(v);
      by.set(at, row);
    }
    return [...by.values()].sort((a, b) => a.at - b.at);
  }

  /** Which campaign an id was enqueued in, if any. */
  async campaignOf(id: number): Promise<string | undefined> {
    // Its record or queued data says; no per-id index is kept beside it (it would cost ~50
    // bytes a message).
    const data =
      (await this.redis.hget(this.keys.done, String(id))) ??
      (await this.redis.hget(this.keys.queued, String(id)));
    if (!data) return undefined;
    try {
      return (JSON.parse(data) as { campaign?: string }).campaign;
    } catch {
      return undefined;
    }
  }

  /** A message's raw stored state, if the campaign has it. */
  async stateOf(campaign: string, id: number): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.state(campaign), String(id))) ?? undefined;
  }

  /** Streams a campaign's `[id, rawState]` pairs, a page at a time (HSCAN: no whole campaign in memory). */
  async *scanStates(campaign: string, count = 500): AsyncGenerator<Array<[number, string]>> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(
        this.keys.state(campaign),
        cursor,
        'COUNT',
        count,
      );
      cursor = next;
      const page: Array<[number, string]> = [];
      for (let i = 0; i + 1 < flat.length; i += 2)
        page.push([Number(flat[i]), flat[i + 1] as string]);
      if (page.length > 0) yield page;
    } while (cursor !== '0');
  }
}
