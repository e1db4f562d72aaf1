/**
 * The campaign store: per-campaign message states and counts kept beside BullMQ's own keys, so that
 * a campaign's counts by state and by status code are read in O(1) and an id is claimed once per
 * queue. All writes go through Lua scripts (src/commands); reads are plain hash reads.
 */
import type { RedisClient } from '../redis.js';
import { CampaignPurgingError, InvalidOptionError } from '../errors.js';
import { defineCommands } from '../commands/index.js';
import { sharedKey } from './shared.js';
import {
  DEFAULT_TIMING,
  gateOf,
  PRIORITY_RANK,
  timingView,
  type Gate,
  type ScheduleView,
  type StoredTiming,
} from './timing.js';
import { STATE_NAMES, type StateName } from './state.js';
import type { MessageEnd } from '../job.js';

/** Job ids are `m<id>`: BullMQ refuses all-digit job ids and ids containing `:`. */
export const jobIdOf = (id: number): string => `m${id}`;

/**
 * `<prefix>vb:msg`: id → job data JSON of each message from its enqueue until it ends (then its
 * finished record holds it). Its BullMQ job is created only when the dispatcher releases it (a
 * hash field costs ~150 B, a job ~900 B); what the settle step records and results read is this.
 */
export const queuedKey = (base: string): string => `${base}vb:msg`;

/**
 * `<prefix>vb:done`: id → finished record of each completed message (its job data, `result`,
 * `delivery`): what results read, kept when workers remove the completed job (settle-5.lua).
 */
export const doneKey = (base: string): string => `${base}vb:done`;

/** `<prefix>vb:jobopts`: campaign → the BullMQ job opts (attempts, backoff) its jobs get. */
export const jobOptsKey = (base: string): string => `${base}vb:jobopts`;

const CAMPAIGN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Campaign names end up in Redis keys and CLI output: keep them plain. */
export function assertCampaignName(campaign: string, what = 'campaign'): void {
  if (!CAMPAIGN_NAME.test(campaign)) {
    throw new InvalidOptionError(
      `${what} must be 1..64 characters of letters, digits, '_', '.', '-', starting with a letter or digit (got ${JSON.stringify(campaign)})`,
    );
  }
}

/** What an operator set on a campaign; workers read it once per batch. */
export type CampaignControl = 'paused' | 'cancelled';

export type EnqueueOutcome = 'new' | 'duplicate' | 'duplicate-in-call';
const ENQUEUE_OUTCOMES: Readonly<Record<number, EnqueueOutcome>> = {
  0: 'new',
  2: 'duplicate',
  3: 'duplicate-in-call',
};

export interface CampaignCounts extends Record<StateName, number> {
  campaign: string;
  total: number;
  /** Set by pause/cancel; null while the campaign runs. */
  control: CampaignControl | null;
  /** Messages by the gateway's status code, for those that reached a final state. */
  byStatus: Record<string, number>;
  /** Delivery tracking of the accepted messages (src/tracking), O(1) like the rest. */
  delivery: DeliveryCounts;
  /** When its last message was sent or ended (ms), or null while any waits or is on the wire. */
  finishedAt: number | null;
  /**
   * Waiting messages of a campaign whose start (`at`) is still ahead: shown here instead of in
   * `waiting` until then.
   */
  scheduled: number;
  /** Its timing settings (null where unset). */
  schedule: ScheduleView;
  /**
   * When a campaign held back by its start time or send window may send next (ms); null while
   * those let it send.
   */
  opensAt: number | null;
}

/** What became of accepted messages, by `<status>`. */
export interface DeliveryCounts {
  /** Being followed now. */
  tracking: number;
  /** 102 DELIVERED or 116 READ (a read message was delivered). */
  delivered: number;
  /** 116 READ. */
  read: number;
  /** Any other final code (expired, undeliverable, rejected…). */
  undelivered: number;
  /** No final code before tracking gave up (the horizon). */
  unknown: number;
  /** Messages by their latest delivery code. */
  byStatus: Record<string, number>;
}

interface StoreCommands {
  vbEnqueue(...args: (string | number)[]): Promise<number[]>;
  vbPurgeBegin(...args: (string | number)[]): Promise<Array<string | number>>;
  vbRequeue(...args: (string | number)[]): Promise<string[]>;
  vbTransition(...args: (string | number)[]): Promise<string[]>;
  vbActivate(...args: (string | number)[]): Promise<string[]>;
  vbPark(...args: (string | number)[]): Promise<string>;
  vbSettle(...args: (string | number)[]): Promise<string[]>;
  vbHeld(...args: (string | number)[]): Promise<string[]>;
  vbBacklog(...args: (string | number)[]): Promise<number>;
  vbSetGate(...args: (string | number)[]): Promise<number>;
}

/** Why a campaign's messages are held back: see src/commands/includes/heldLetter.lua. */
export type HeldLetter = 'p' | 'x' | 'e' | 's';

export class CampaignStore {
  private readonly redis: RedisClient & StoreCommands;

  /**
   * @param redis a connection this store may define its two scripts on; it does not close it.
   * @param base  the queue's key prefix, e.g. `bull:viber:` (BullMQ's `queue.toKey('')`).
   */
  constructor(
    redis: RedisClient,
    private readonly base: string,
  ) {
    defineCommands(redis);
    this.redis = redis as RedisClient & StoreCommands;
  }

  private get campaignsKey(): string {
    return `${this.base}vb:campaigns`;
  }

  stateKey(campaign: string): string {
    return `${this.base}vb:c:${campaign}:state`;
  }

  countsKey(campaign: string): string {
    return `${this.base}vb:c:${campaign}:counts`;
  }

  /**
   * Enqueues messages for a campaign in one round trip: each `[id, job data JSON]` is deduped by
   * id across the queue and kept until the dispatcher releases it; one outcome per message, in
   * order.
   */
  async enqueue(
    campaign: string,
    messages: ReadonlyArray<readonly [number, string]>,
  ): Promise<EnqueueOutcome[]> {
    if (messages.length === 0) return [];
    const args: (string | number)[] = [campaign];
    for (const [id, data] of messages) args.push(id, data);
    let raw: number[];
    try {
      raw = await this.redis.vbEnqueue(
        this.stateKey(campaign),
        this.countsKey(campaign),
        this.campaignsKey,
        this.backlogKey(campaign),
        this.readyKey,
        queuedKey(this.base),
        doneKey(this.base),
        this.purgingKey,
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

  /** `<prefix>vb:purging`: campaign → when its purge began (s); enqueues of it are refused. */
  private get purgingKey(): string {
    return `${this.base}vb:purging`;
  }

  /**
   * Marks the campaign as being purged if it may be, in one step with the check: returns the
   * counts that forbid it (empty when marked). `active` always forbids; without `force`, messages
   * waiting, delayed, paused or being tracked do too.
   */
  async beginPurge(campaign: string, force: boolean): Promise<Record<string, number>> {
    const flat = await this.redis.vbPurgeBegin(
      this.countsKey(campaign),
      this.purgingKey,
      campaign,
      force ? '1' : '0',
    );
    const out: Record<string, number> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = Number(flat[i + 1]);
    return out;
  }

  /** True while a purge of the campaign is under way (or stopped halfway). */
  async purging(campaign: string): Promise<boolean> {
    return (await this.redis.hexists(this.purgingKey, campaign)) === 1;
  }

  /**
   * Queues failed messages again from their finished records (retry-failed); returns the ids
   * that moved.
   */
  async requeueFailed(campaign: string, ids: readonly number[]): Promise<number[]> {
    if (ids.length === 0) return [];
    const moved = await this.redis.vbRequeue(
      this.stateKey(campaign),
      this.countsKey(campaign),
      doneKey(this.base),
      queuedKey(this.base),
      this.backlogKey(campaign),
      this.readyKey,
      campaign,
      ...ids,
    );
    return moved.map(Number);
  }

  /** Sets the BullMQ job opts (JSON) the campaign's messages get when they are released. */
  async setJobOpts(campaign: string, opts: string): Promise<void> {
    await this.redis.hset(jobOptsKey(this.base), campaign, opts);
  }

  /** The job data of messages enqueued and not ended yet (null where ended or unknown). */
  async queuedData(ids: readonly number[]): Promise<Array<string | null>> {
    if (ids.length === 0) return [];
    return this.redis.hmget(queuedKey(this.base), ...ids.map(String));
  }

  /** The finished records of these messages (null where a message has none). */
  async records(ids: readonly number[]): Promise<Array<string | null>> {
    if (ids.length === 0) return [];
    return this.redis.hmget(doneKey(this.base), ...ids.map(String));
  }

  /** Drops what is kept of messages: queued data, finished records (purge). */
  async dropRecords(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    const fields = ids.map(String);
    await this.redis
      .multi()
      .hdel(queuedKey(this.base), ...fields)
      .hdel(doneKey(this.base), ...fields)
      .exec();
  }

  /**
   * As transition(), for a batch's outcomes: each message given its end (accepted, or failed for
   * good, cancelled, expired) gets its finished record (its job data and that end) and, with
   * `firstDue` (tracking on), each completed one starts being tracked — in one script call.
   */
  async settleStates(
    campaign: string,
    changes: ReadonlyArray<readonly [id: number, state: string, end?: MessageEnd]>,
    acceptedAt: number,
    firstDue: number | undefined,
  ): Promise<number[]> {
    if (changes.length === 0) return [];
    const args: (string | number)[] = [campaign, acceptedAt, firstDue ?? ''];
    for (const [id, st, end] of changes) args.push(id, st, end ? endFragment(end) : '');
    const moved = await this.redis.vbSettle(
      this.stateKey(campaign),
      this.countsKey(campaign),
      `${this.base}vb:track`,
      `${this.base}vb:trk`,
      doneKey(this.base),
      queuedKey(this.base),
      ...args,
    );
    return moved.map(Number);
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
    const args: (string | number)[] = [onlyFrom];
    for (const [id, st] of changes) args.push(id, st);
    const moved = await this.redis.vbTransition(
      this.stateKey(campaign),
      this.countsKey(campaign),
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
      this.stateKey(campaign),
      this.countsKey(campaign),
      this.controlKey,
      this.deadlinesKey,
      this.gateKey,
      campaign,
      ...ids,
    );
    for (let i = 0; i + 1 < flat.length; i += 2)
      held.set(Number(flat[i]), flat[i + 1] as HeldLetter);
    return held;
  }

  /** Which of these campaigns may not send now (read-only; one round trip). */
  async held(campaigns: readonly string[]): Promise<Map<string, HeldLetter>> {
    const out = new Map<string, HeldLetter>();
    if (campaigns.length === 0) return out;
    const letters = await this.redis.vbHeld(
      this.base + 'vb:unused',
      this.base + 'vb:unused',
      this.controlKey,
      this.deadlinesKey,
      this.gateKey,
      ...campaigns,
    );
    campaigns.forEach((c, i) => {
      const l = letters[i];
      if (l) out.set(c, l as HeldLetter);
    });
    return out;
  }

  /** Puts ids back at the front of their campaign's backlog (not its time yet). */
  async backToBacklog(campaign: string, ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.redis.vbBacklog(this.readyKey, this.backlogKey(campaign), campaign, ...ids);
  }

  /** `<prefix>vb:bl:<campaign>`: ids enqueued and not released to BullMQ's wait list yet. */
  backlogKey(campaign: string): string {
    return `${this.base}vb:bl:${campaign}`;
  }

  get readyKey(): string {
    return `${this.base}vb:ready`;
  }

  private get timingKey(): string {
    return `${this.base}vb:timing`;
  }

  get gateKey(): string {
    return `${this.base}vb:gate`;
  }

  /** The campaign's timing settings (defaults where unset). */
  async timing(campaign: string): Promise<StoredTiming> {
    const raw = await this.redis.hget(this.timingKey, campaign);
    return raw === null ? { ...DEFAULT_TIMING } : parseTiming(raw);
  }

  /** Stores timing settings and the gate they give now, in one step. */
  async setTiming(campaign: string, timing: StoredTiming, now = Date.now()): Promise<void> {
    await this.redis
      .multi()
      .hset(this.timingKey, campaign, JSON.stringify(timing))
      .hset(this.gateKey, campaign, gateString(timing, gateOf(timing, now)))
      .exec();
  }

  /**
   * A campaign's window closed (the dispatcher said so): computes the next interval from the
   * stored timing and writes it, unless the timing changed meanwhile.
   */
  async refreshGate(campaign: string, now = Date.now()): Promise<Gate | undefined> {
    const raw = (await this.redis.hget(this.timingKey, campaign)) ?? '';
    const timing = raw === '' ? { ...DEFAULT_TIMING } : parseTiming(raw);
    const gate = gateOf(timing, now);
    const wrote = await this.redis.vbSetGate(
      this.timingKey,
      this.gateKey,
      campaign,
      raw,
      gateString(timing, gate),
    );
    return wrote === 1 ? gate : undefined;
  }

  /** Stores a shared set once (content-addressed: a set with this hash is this set). */
  async saveShared(hash: string, json: string): Promise<void> {
    await this.redis.hsetnx(sharedKey(this.base), hash, json);
  }

  private get deadlinesKey(): string {
    return `${this.base}vb:expires`;
  }

  /** Sets (or, with undefined, clears) the moment after which nothing of the campaign is sent. */
  async setDeadline(campaign: string, at: number | undefined): Promise<void> {
    if (at === undefined) await this.redis.hdel(this.deadlinesKey, campaign);
    else await this.redis.hset(this.deadlinesKey, campaign, String(at));
  }

  /** The campaign's deadline (ms), if it has one. */
  async deadline(campaign: string): Promise<number | undefined> {
    const v = await this.redis.hget(this.deadlinesKey, campaign);
    return v === null ? undefined : Number(v);
  }

  /**
   * Marks messages paused, if their campaign still is; returns the campaign's control as it is
   * now (the states changed only when that is 'paused').
   */
  async park(campaign: string, ids: readonly number[]): Promise<CampaignControl | undefined> {
    const control = await this.redis.vbPark(
      this.stateKey(campaign),
      this.countsKey(campaign),
      this.controlKey,
      this.backlogKey(campaign),
      this.readyKey,
      campaign,
      ...ids,
    );
    return control === 'paused' || control === 'cancelled' ? control : undefined;
  }

  /** Raw stored states of some messages, in one round trip (undefined: not in the campaign). */
  async statesOf(campaign: string, ids: readonly number[]): Promise<Array<string | undefined>> {
    if (ids.length === 0) return [];
    const raw = await this.redis.hmget(this.stateKey(campaign), ...ids.map(String));
    return raw.map((v) => v ?? undefined);
  }

  private get controlKey(): string {
    return `${this.base}vb:control`;
  }

  /** Sets (or clears, with undefined) a campaign's control: paused or cancelled. */
  async setControl(campaign: string, control: CampaignControl | undefined): Promise<void> {
    if (control) await this.redis.hset(this.controlKey, campaign, control);
    else await this.redis.hdel(this.controlKey, campaign);
  }

  /** A campaign's counts, O(1): one HGETALL of a hash with a handful of fields. */
  async counts(campaign: string): Promise<CampaignCounts> {
    const [raw, control, timingRaw, deadline] = await Promise.all([
      this.redis.hgetall(this.countsKey(campaign)),
      this.redis.hget(this.controlKey, campaign),
      this.redis.hget(this.timingKey, campaign),
      this.redis.hget(this.deadlinesKey, campaign),
    ]);
    const timing = timingRaw === null ? { ...DEFAULT_TIMING } : parseTiming(timingRaw);
    const num = (k: string): number => Number(raw[k] ?? 0);
    const byStatus: Record<string, number> = {};
    const byDelivery: Record<string, number> = {};
    for (const [k, v] of Object.entries(raw)) {
      if (k.startsWith('code:') && Number(v) !== 0) byStatus[k.slice(5)] = Number(v);
      if (k.startsWith('dcode:') && Number(v) !== 0) byDelivery[k.slice(6)] = Number(v);
    }
    const out = {
      campaign,
      total: num('total'),
      control: control === 'paused' || control === 'cancelled' ? control : null,
      byStatus,
      finishedAt: raw['finishedAt'] === undefined ? null : Number(raw['finishedAt']),
      delivery: {
        tracking: num('tracking'),
        delivered: num('delivered'),
        read: num('read'),
        undelivered: num('undelivered'),
        unknown: num('unknown'),
        byStatus: byDelivery,
      },
      schedule: timingView(timing, deadline === null ? undefined : Number(deadline)),
    } as CampaignCounts;
    for (const s of STATE_NAMES) out[s] = num(s);
    const now = Date.now();
    out.scheduled = 0;
    if (timing.at !== null && timing.at > now) {
      out.scheduled = out.waiting;
      out.waiting = 0;
    }
    const gate = gateOf(timing, now);
    out.opensAt = gate.from > now ? gate.from : null;
    return out;
  }

  /** Ends the tracking of these ids, if any is tracked (purge). */
  async untrack(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.redis
      .multi()
      .zrem(`${this.base}vb:track`, ...ids)
      .hdel(`${this.base}vb:trk`, ...ids.map(String))
      .exec();
  }

  /**
   * Removes what the store keeps of a campaign: states, counts, control, listing (purge). UNLINK:
   * a million-message state hash is freed in the background, not while Redis serves others.
   */
  async forget(campaign: string): Promise<void> {
    await this.redis
      .multi()
      .unlink(this.stateKey(campaign), this.countsKey(campaign), this.backlogKey(campaign))
      .hdel(this.controlKey, campaign)
      .hdel(this.deadlinesKey, campaign)
      .hdel(this.timingKey, campaign)
      .hdel(jobOptsKey(this.base), campaign)
      .hdel(this.gateKey, campaign)
      .hdel(`${this.base}vb:fair`, campaign)
      .hdel(`${this.base}vb:crate`, campaign)
      .srem(this.readyKey, campaign)
      .zrem(this.campaignsKey, campaign)
      .hdel(this.purgingKey, campaign)
      .exec();
  }

  /** Known campaigns, oldest first. */
  async campaigns(): Promise<string[]> {
    return this.redis.zrange(this.campaignsKey, 0, -1);
  }

  /** Which campaign an id was enqueued in, if any. */
  async campaignOf(id: number): Promise<string | undefined> {
    // Its record or queued data says; no per-id index is kept beside it (it would cost ~50
    // bytes a message).
    const data =
      (await this.redis.hget(doneKey(this.base), String(id))) ??
      (await this.redis.hget(queuedKey(this.base), String(id)));
    if (!data) return undefined;
    try {
      return (JSON.parse(data) as { campaign?: string }).campaign;
    } catch {
      return undefined;
    }
  }

  /** A message's raw stored state, if the campaign has it. */
  async stateOf(campaign: string, id: number): Promise<string | undefined> {
    return (await this.redis.hget(this.stateKey(campaign), String(id))) ?? undefined;
  }

  /** Streams a campaign's `[id, rawState]` pairs, a page at a time (HSCAN: no whole campaign in memory). */
  async *scanStates(campaign: string, count = 500): AsyncGenerator<Array<[number, string]>> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.stateKey(campaign), cursor, 'COUNT', count);
      cursor = next;
      const page: Array<[number, string]> = [];
      for (let i = 0; i + 1 < flat.length; i += 2)
        page.push([Number(flat[i]), flat[i + 1] as string]);
      if (page.length > 0) yield page;
    } while (cursor !== '0');
  }
}

/** A record's end as settle-5.lua splices it into the job data: `"result":{…}` or `"failed":{…}`. */
function endFragment(end: MessageEnd): string {
  return 'result' in end
    ? `"result":${JSON.stringify(end.result)}`
    : `"failed":${JSON.stringify(end.failed)}`;
}

function parseTiming(raw: string): StoredTiming {
  return { ...DEFAULT_TIMING, ...(JSON.parse(raw) as Partial<StoredTiming>) };
}

/** The gate as the Lua scripts read it: rank:weight:rate:from:until, all numbers. */
function gateString(t: StoredTiming, g: Gate): string {
  return `${PRIORITY_RANK[t.priority]}:${t.weight}:${t.campaignRate ?? 0}:${g.from}:${g.until}`;
}
