/**
 * The delivery tracker: a loop in every worker process that asks the gateway `<status>` about
 * accepted messages until their fate is known (delivery.ts decides what an answer means), shared
 * by all workers of a queue through the schedule in Redis (src/commands/track*.lua).
 *
 * One round: claim up to `batchSize` due ids (a lease: nobody else asks about them meanwhile) →
 * wait for a status slot (its own rate, `rate` requests/s for the whole queue) and for any 212
 * pause of the queue → one `<status>` for all of them → one Lua call records every answer (job,
 * counts, next due time). Between rounds it sleeps until the next id is due (at most `idleMs`).
 *
 * Faults are the send path's: transport errors and unreadable answers are retried by the gateway
 * client (p-retry), and if they outlast it the ids are due again 2 s later; 212 pauses every
 * worker of the queue, sends and status requests alike, and the ids wait behind the pause; an id
 * the answer leaves out stays tracked. A worker that dies mid-round loses nothing: its claimed ids
 * come back when their lease runs out.
 *
 * States: idle --ids due--> asking --answer recorded--> idle; any --close()--> stopped (the round
 * in flight is aborted; its ids come back after their lease).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from '../redis.js';
import type { MemoryGuard } from '../memory-guard.js';
import type { Logger } from 'pino';
import { hasCode, type GatewayPackageError } from '../errors.js';
import type { GatewayClient } from '../gateway/client.js';
import { classify } from '../xml/codes.js';
import type { StatusResult } from '../xml/parse.js';
import type { RateLimiter } from '../gateway/rate-limiter.js';
import {
  decodeInfo,
  encodeInfo,
  stepEvents,
  trackStep,
  type TrackingSettings,
  type TrackStep,
} from './delivery.js';
import { defineCommands } from '../commands/index.js';
import { QueueKeys } from '../keys.js';
import { fallbackRecord, readFinished, recordMsgId, withDelivery } from '../campaign/records.js';
import type { SharedCache } from '../campaign/shared.js';
import { isFallbackCampaign } from '../fallback.js';

/** What one status round came to: the worker's `delivery` event. */
export interface DeliveryReport {
  /** Ids asked about. */
  asked: number;
  /** Ids the answer spoke of. */
  answered: number;
  /** Messages whose tracking ended in this round, by how. */
  delivered: number;
  read: number;
  undelivered: number;
  unknown: number;
  /** Latest codes given in this round, by code. */
  codes: Record<string, number>;
  /** SMS fallbacks made in this round (Viber could not deliver; src/fallback.ts). */
  fallbacks: number;
  /** Of the ends above, those of SMS fallbacks. */
  sms: { delivered: number; undelivered: number; unknown: number };
  durationMs: number;
}

export interface TrackerOptions extends TrackingSettings {
  /** Ids per `<status>` request. */
  batchSize: number;
  /** Status requests per second for the whole queue. */
  rate: number;
  /** Final Viber codes that send a message's SMS fallback, if it carries one (src/fallback.ts). */
  fallbackCodes: ReadonlySet<number>;
  /** Whether giving up on a message (`unknown`) sends its fallback too. */
  fallbackOnUnknown: boolean;
}

interface TrackCommands {
  vbTrackClaim(...args: (string | number)[]): Promise<string[]>;
  vbTrackRecord(...args: (string | number)[]): Promise<number>;
  vbTrackRelease(...args: (string | number)[]): Promise<number>;
}

export interface TrackerHooks {
  logger: Logger;
  /** The gateway said 212: pause every worker of the queue. */
  onThrottle(): Promise<void>;
  onReport(report: DeliveryReport): void;
  /** A status answer came back (throttling is over). */
  onAnswered(): void;
  /** While Redis is out of memory, rounds wait (and log nothing: the guard does). */
  memory?: MemoryGuard;
  /** Shared fields of the messages' records (an SMS fallback's text may be one). */
  shared: SharedCache;
}

export class Tracker {
  private readonly keys: QueueKeys;
  private readonly redis: RedisClient & TrackCommands;
  private readonly stop = new AbortController();
  private running: Promise<void> | undefined;
  /** Longest sleep between looks at the schedule when nothing is due, ms. */
  private readonly idleMs = 1000;
  /** How soon ids of a failed status request are due again, ms. */
  private readonly retryAfterMs = 2000;

  constructor(
    redis: RedisClient,
    /** The queue's key prefix, `bull:<queue>:`. */
    base: string,
    private readonly opts: TrackerOptions,
    private readonly gateway: GatewayClient,
    /** Status requests' own pace (rate requests/s for the queue). */
    private readonly pace: RateLimiter,
    /** The send path's pacer: its 212 pause holds status requests too. */
    private readonly sendPace: RateLimiter,
    private readonly hooks: TrackerHooks,
    /** How long a claimed id stays with this worker before any worker may take it, ms. */
    private readonly leaseMs: number,
  ) {
    this.keys = new QueueKeys(base);
    defineCommands(redis);
    this.redis = redis as RedisClient & TrackCommands;
  }

  /** When an accepted message is first asked about, and how long it is tracked at most, ms. */
  get span(): { afterMs: number; horizonMs: number } {
    const o = this.opts;
    return { afterMs: o.trackAfterMs, horizonMs: o.trackForMs + o.readWindowMs };
  }

  get trackKey(): string {
    return this.keys.track;
  }

  get infoKey(): string {
    return this.keys.trackInfo;
  }

  /** Starts the loop (once). */
  start(): void {
    this.running ??= this.loop();
  }

  /** Stops the loop; a round in flight is aborted (its ids come back after their lease). */
  async close(): Promise<void> {
    this.stop.abort(new Error('tracker closed'));
    await this.running;
  }

  private async loop(): Promise<void> {
    const signal = this.stop.signal;
    while (!signal.aborted) {
      try {
        const waitMs = this.hooks.memory?.full ? this.idleMs : await this.round(signal);
        if (waitMs > 0) await sleep(waitMs, undefined, { signal });
      } catch (err) {
        if (signal.aborted) return;
        if (!this.hooks.memory?.saw(err))
          this.hooks.logger.warn({ err: (err as Error).message }, 'delivery tracking round failed');
        await sleep(this.idleMs, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  /** One round; returns how long to sleep before the next. */
  private async round(signal: AbortSignal): Promise<number> {
    const now = Date.now();
    const raw = await this.redis.vbTrackClaim(
      this.trackKey,
      this.infoKey,
      now,
      this.leaseMs,
      this.opts.batchSize,
    );
    const nextDue = raw.pop();
    if (raw.length === 0) {
      const due = nextDue ? Number(nextDue) - now : this.idleMs;
      return Math.max(20, Math.min(due, this.idleMs));
    }
    const claimed: Array<{ id: number; raw: string }> = [];
    for (let i = 0; i < raw.length; i += 2) {
      claimed.push({ id: Number(raw[i]), raw: raw[i + 1] as string });
    }
    const started = Date.now();
    await this.pace.acquire(1, signal);
    await this.sendPace.waitOutPause(signal); // a 212 pause of the queue holds us too
    let statuses: StatusResult[];
    try {
      statuses = await this.gateway.status(
        claimed.map((c) => c.id),
        { signal },
      );
    } catch (err) {
      if (signal.aborted) throw err;
      if (hasCode(err, 'GATEWAY_PACKAGE_ERROR')) {
        const code = (err as GatewayPackageError).statusCode;
        if (classify('package', code) === 'throttled') {
          // The pause holds every worker; the ids are due again at once, behind it.
          await this.hooks.onThrottle();
          await this.release(claimed, Date.now());
          return 0;
        }
      }
      // Retried in transit already (p-retry): ask about them again a little later.
      this.hooks.logger.warn(
        { err: (err as Error).message, ids: claimed.length },
        'status request failed; these messages are asked about again shortly',
      );
      await this.release(claimed, Date.now() + this.retryAfterMs);
      return 0;
    }
    this.hooks.onAnswered();
    await this.record(claimed, statuses, started);
    return 0;
  }

  private async release(claimed: Array<{ id: number; raw: string }>, due: number): Promise<void> {
    const args: Array<string | number> = [due];
    for (const c of claimed) args.push(c.id, c.raw);
    await this.redis.vbTrackRelease(this.trackKey, this.infoKey, ...args);
  }

  private async record(
    claimed: Array<{ id: number; raw: string }>,
    statuses: StatusResult[],
    started: number,
  ): Promise<void> {
    const byId = new Map<number, StatusResult>();
    for (const s of statuses) if (s.id !== undefined && !byId.has(s.id)) byId.set(s.id, s);
    const now = Date.now();
    const report: DeliveryReport = {
      asked: claimed.length,
      answered: 0,
      delivered: 0,
      read: 0,
      undelivered: 0,
      unknown: 0,
      codes: {},
      fallbacks: 0,
      sms: { delivered: 0, undelivered: 0, unknown: 0 },
      durationMs: 0,
    };
    // Each record is composed whole here with its delivery (no script edits JSON); the script
    // writes it only while the tracking info is still the one claimed.
    const records = await this.redis.hmget(this.keys.done, ...claimed.map((c) => String(c.id)));
    const args: Array<string | number> = [this.keys.base];
    const groups = claimed.map((c, i) => {
      const status = byId.get(c.id);
      if (status) {
        report.answered++;
        report.codes[status.code] = (report.codes[status.code] ?? 0) + 1;
      }
      const g = recordGroup(c, status, records[i], now, this.opts);
      for (const k of ['delivered', 'read', 'undelivered', 'unknown'] as const) {
        report[k] += g.step.deltas[k] ?? 0;
      }
      if (g.isSms) {
        for (const k of ['delivered', 'undelivered', 'unknown'] as const) {
          report.sms[k] += g.step.deltas[k] ?? 0;
        }
      }
      return g;
    });
    // SMS fallbacks of the messages that just failed on Viber with a code that sends one.
    const falling = groups.flatMap((g, i) =>
      g.fallsBack ? [{ g, finished: readFinished(records[i]) }] : [],
    );
    if (falling.length > 0) await this.hooks.shared.load(falling.map((f) => f.finished?.shared));
    falling.forEach(({ g, finished }) => {
      const sms = fallbackRecord(finished, this.hooks.shared.get(finished?.shared));
      if (!sms) return;
      g.group.splice(-2, 2, sms.id, sms.json);
      report.fallbacks++;
    });
    for (const g of groups) args.push(...g.group);
    await this.redis.vbTrackRecord(
      this.trackKey,
      this.infoKey,
      this.keys.done,
      ...this.keys.outbox,
      this.keys.queued,
      this.keys.ready,
      this.keys.control,
      ...args,
    );
    report.durationMs = Date.now() - started;
    this.hooks.onReport(report);
  }
}

/**
 * One claimed message's group of the record script's ARGV (trackRecord-8.lua): its step from its
 * answer (or its silence), its record with the delivery set, the count changes, its webhook
 * events with the msg_id the answer names (sms_id) or, without an answer, its record, and no SMS
 * fallback ('' ''): `fallsBack` says whether the caller must compose one (a Viber message that
 * ended undelivered with a code of `fallbackCodes`, or unknown with `fallbackOnUnknown`; it does
 * if the message carries one).
 * An SMS is delivered or not, never read: its delivery is not watched for a read.
 */
export function recordGroup(
  claimed: { id: number; raw: string },
  status: StatusResult | undefined,
  record: string | null | undefined,
  now: number,
  opts: TrackingSettings & Partial<Pick<TrackerOptions, 'fallbackCodes' | 'fallbackOnUnknown'>>,
): {
  step: TrackStep;
  group: Array<string | number>;
  /** The message is an SMS fallback itself. */
  isSms: boolean;
  fallsBack: boolean;
} {
  const info = decodeInfo(claimed.raw);
  const sms = isFallbackCampaign(info.campaign);
  const step = trackStep(info, status, now, sms ? { ...opts, readWindowMs: 0 } : opts);
  const events = stepEvents(
    step,
    () => status?.smsId || recordMsgId(record),
    status?.code ?? info.code,
  );
  const code = step.record.code;
  return {
    step,
    isSms: sms,
    fallsBack:
      !sms &&
      ((step.record.state === 'undelivered' &&
        code !== null &&
        opts.fallbackCodes?.has(code) === true) ||
        (step.record.state === 'unknown' && opts.fallbackOnUnknown === true)),
    group: [
      claimed.id,
      claimed.raw,
      step.info ? encodeInfo(step.info) : '',
      step.dueAt,
      info.campaign,
      withDelivery(record, step.record),
      deltaList(step.deltas, step.record.deliveredAt, now),
      events.kinds,
      events.members,
      '',
      '',
    ],
  };
}

/**
 * The count changes of one step as the record script takes them, with the campaign's timeline:
 * a message delivered now counts in the minute it was delivered (its deliveredAt).
 */
function deltaList(
  deltas: Record<string, number>,
  deliveredAt: string | null,
  now: number,
): string {
  const out = Object.entries(deltas)
    .filter(([, by]) => by !== 0)
    .map(([f, by]) => `${f}=${by}`);
  if ((deltas['delivered'] ?? 0) > 0) {
    const at = deliveredAt === null ? now : Date.parse(deliveredAt);
    out.push(
      `tl:d:${Math.floor((Number.isFinite(at) ? at : now) / 60_000)}=${deltas['delivered']}`,
    );
  }
  return out.join(';');
}
