/**
 * A campaign's timing as the store keeps it: its settings (`vb:timing`, JSON), the gate they give
 * now (`vb:gate`, the two UTC instants the dispatcher and the activate step read by Redis's clock),
 * and its deadline (`vb:expires`). Gates are computed here, in Node, with Luxon (timing.ts).
 */
import type { ChainableCommander } from 'ioredis';
import { fallbackCampaign } from '../fallback.js';
import { defineCommands } from '../commands/index.js';
import type { QueueKeys } from '../keys.js';
import type { RedisClient } from '../redis.js';
import { checkKnownKeys, optionKeys } from '../options.js';
import {
  DEFAULT_TIMING,
  gateOf,
  mergeTiming,
  PRIORITY_RANK,
  touchesTiming,
  type Gate,
  type StoredTiming,
  type TimingSettings,
} from './timing.js';

interface ScheduleCommands {
  vbSetGate(...args: (string | number)[]): Promise<number>;
}

export class CampaignSchedule {
  private readonly redis: RedisClient & ScheduleCommands;

  constructor(
    redis: RedisClient,
    private readonly keys: QueueKeys,
  ) {
    defineCommands(redis);
    this.redis = redis as RedisClient & ScheduleCommands;
  }

  /** The campaign's timing settings (defaults where unset). */
  async timing(campaign: string): Promise<StoredTiming> {
    const raw = await this.redis.hget(this.keys.timing, campaign);
    return raw === null ? { ...DEFAULT_TIMING } : parseTiming(raw);
  }

  /** Stores timing settings and the gate they give now, in one step. */
  async setTiming(campaign: string, timing: StoredTiming, now = Date.now()): Promise<void> {
    const m = this.redis
      .multi()
      .hset(this.keys.timing, campaign, JSON.stringify(timing))
      .hset(this.keys.gate, campaign, gateString(timing, gateOf(timing, now)));
    // The dispatcher looks at it again now: it may have been asleep until the old start.
    await this.wake(m, campaign).exec();
  }

  /** Into the ready set, out of the sleep set: the campaign, and its SMS fallbacks with it. */
  wake<M extends ChainableCommander>(m: M, campaign: string): M {
    for (const c of [campaign, fallbackCampaign(campaign)])
      m.sadd(this.keys.ready, c).zrem(this.keys.sleep, c);
    return m;
  }

  /**
   * A campaign's window closed (the dispatcher said so): computes the next interval from the
   * stored timing and writes it, unless the timing changed meanwhile.
   */
  async refreshGate(campaign: string, now = Date.now()): Promise<Gate | undefined> {
    const raw = (await this.redis.hget(this.keys.timing, campaign)) ?? '';
    const timing = raw === '' ? { ...DEFAULT_TIMING } : parseTiming(raw);
    const gate = gateOf(timing, now);
    const wrote = await this.redis.vbSetGate(
      this.keys.timing,
      this.keys.gate,
      campaign,
      raw,
      gateString(timing, gate),
    );
    return wrote === 1 ? gate : undefined;
  }

  /** Writes what the settings change: the deadline, and the timing (with its gate) if touched. */
  async apply(campaign: string, s: TimingSettings): Promise<void> {
    if (s.expires !== undefined) await this.setDeadline(campaign, s.expires?.getTime());
    if (touchesTiming(s))
      await this.setTiming(campaign, mergeTiming(await this.timing(campaign), s));
  }

  /** Sets (or, with undefined, clears) the moment after which nothing of the campaign is sent. */
  async setDeadline(campaign: string, at: number | undefined): Promise<void> {
    const m = this.redis.multi();
    if (at === undefined) m.hdel(this.keys.deadlines, campaign);
    else m.hset(this.keys.deadlines, campaign, String(at));
    // Asleep until its old start or deadline: the dispatcher looks again now.
    await this.wake(m, campaign).exec();
  }

  /** The campaign's deadline (ms), if it has one. */
  async deadline(campaign: string): Promise<number | undefined> {
    const v = await this.redis.hget(this.keys.deadlines, campaign);
    return v === null ? undefined : Number(v);
  }
}

export function parseTiming(raw: string): StoredTiming {
  return { ...DEFAULT_TIMING, ...(JSON.parse(raw) as Partial<StoredTiming>) };
}

/** The gate as the Lua scripts read it: rank:weight:rate:from:until, all numbers. */
function gateString(t: StoredTiming, g: Gate): string {
  return `${PRIORITY_RANK[t.priority]}:${t.weight}:${t.campaignRate ?? 0}:${g.from}:${g.until}`;
}

const TIMING_KEYS = optionKeys<TimingSettings>({
  at: true,
  window: true,
  tz: true,
  expires: true,
  priority: true,
  weight: true,
  campaignRate: true,
});

/** Timing settings name only known keys (a misspelt one is refused with the closest). */
export function checkTimingKeys(s: TimingSettings): void {
  checkKnownKeys('schedule', s, TIMING_KEYS);
}
