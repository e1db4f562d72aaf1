/**
 * A campaign's counts as `status`, `campaigns` and the library read them: built from the counts
 * hash (kept in step by every script that moves a message, src/commands/includes/counts.lua), its
 * control and its timing. Pure: the store reads, this shapes.
 */
import { STATE_NAMES, type StateName } from './state.js';
import { gateOf, timingView, type ScheduleView, type StoredTiming } from './timing.js';

/** What an operator set on a campaign; workers read it once per batch. */
export type CampaignControl = 'paused' | 'cancelled';

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
  /** Its SMS fallbacks' funnel (src/fallback.ts): all zero for a campaign without any. */
  sms: SmsCounts;
}

/** What became of a campaign's SMS fallbacks, sent and tracked as its messages are. */
export interface SmsCounts {
  /** Fallbacks made: messages Viber could not deliver that carry one. */
  total: number;
  /** Not sent yet: waiting for their turn, in a package, or retrying. */
  waiting: number;
  /** Held while the campaign is paused. */
  paused: number;
  /** Accepted by the gateway. */
  sent: number;
  /** Refused by the gateway for good. */
  failed: number;
  /** Never sent: the campaign was cancelled or passed its deadline, or the phone is suppressed. */
  unsent: number;
  /** Being followed by delivery tracking now. */
  tracking: number;
  delivered: number;
  undelivered: number;
  /** No final code before tracking gave up. */
  unknown: number;
  /** SMS by their latest delivery code. */
  byStatus: Record<string, number>;
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
  /**
   * While any is tracked: when the campaign's tracking ends at the latest (ms; the last
   * acceptance plus the worker's trackForMs and readWindowMs), else null.
   */
  until: number | null;
}

/** The counts view of one campaign from what the store read (`now` for its schedule). */
export function countsOf(
  campaign: string,
  raw: Record<string, string>,
  control: string | null,
  timing: StoredTiming,
  deadline: number | undefined,
  now = Date.now(),
  sms: Record<string, string> = {},
): CampaignCounts {
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
      until: num('tracking') > 0 && raw['trackUntil'] ? Number(raw['trackUntil']) : null,
    },
    schedule: timingView(timing, deadline),
    sms: smsCountsOf(sms),
  } as CampaignCounts;
  for (const s of STATE_NAMES) out[s] = num(s);
  out.scheduled = 0;
  if (timing.at !== null && timing.at > now) {
    out.scheduled = out.waiting;
    out.waiting = 0;
  }
  const gate = gateOf(timing, now);
  out.opensAt = gate.from > now ? gate.from : null;
  return out;
}

/** The SMS funnel from a fallback companion's counts hash (empty: the campaign has none). */
function smsCountsOf(raw: Record<string, string>): SmsCounts {
  const num = (k: string): number => Number(raw[k] ?? 0);
  const byStatus: Record<string, number> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k.startsWith('dcode:') && Number(v) !== 0) byStatus[k.slice(6)] = Number(v);
  }
  return {
    total: num('total'),
    waiting: num('waiting') + num('active') + num('delayed'),
    paused: num('paused'),
    sent: num('completed'),
    failed: num('failed'),
    unsent: num('cancelled') + num('expired') + num('suppressed'),
    tracking: num('tracking'),
    delivered: num('delivered'),
    undelivered: num('undelivered'),
    unknown: num('unknown'),
    byStatus,
  };
}

/** Messages of the campaign that ended: accepted, failed, cancelled, expired or suppressed. */
export function endedOf(c: CampaignCounts): number {
  return c.completed + c.failed + c.cancelled + c.expired + c.suppressed;
}
