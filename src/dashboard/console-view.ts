/**
 * What the campaign console shows, pure: a campaign's state in the operator's words, its summary
 * line, its page, one message as the search box shows it. The JSON API serves exactly these
 * shapes, so pages and scripts read the same thing. No Redis, no clock: `now` is an argument.
 */
import { endedOf, type CampaignCounts, type SmsCounts } from '../campaign/counts.js';
import type { MessageResult } from '../inspect/inspector.js';
import { codeName } from '../xml/codes.js';

/** A campaign's state as an operator says it. */
export type ConsoleState =
  | 'scheduled'
  | 'sending'
  | 'paused'
  | 'outside its window'
  | 'cancelled'
  | 'expired'
  | 'tracking'
  | 'finished';

export const CONSOLE_STATES: readonly ConsoleState[] = [
  'scheduled',
  'sending',
  'paused',
  'outside its window',
  'cancelled',
  'expired',
  'tracking',
  'finished',
];

/**
 * cancelled and paused are the operator's own controls and win; a campaign with nothing left to
 * send is tracking (while delivery is followed) and then finished, or expired when its deadline
 * ended what was left; otherwise it waits for its start (scheduled), for its window, or sends.
 */
export function consoleState(c: CampaignCounts): ConsoleState {
  if (c.control === 'cancelled') return 'cancelled';
  if (c.control === 'paused') return 'paused';
  if (c.total > 0 && endedOf(c) >= c.total) {
    // Its SMS fallbacks are sent after its own messages end: still under way until they are.
    if (c.delivery.tracking + c.sms.waiting + c.sms.tracking > 0) return 'tracking';
    return c.expired > 0 && c.completed + c.failed < c.total ? 'expired' : 'finished';
  }
  if (c.scheduled > 0) return 'scheduled';
  if (c.opensAt !== null) return 'outside its window';
  return 'sending';
}

export interface CampaignSummary {
  name: string;
  state: ConsoleState;
  counts: {
    total: number;
    /** Ended one way or another: accepted, failed, cancelled, expired. */
    sent: number;
    accepted: number;
    failed: number;
    waiting: number;
    active: number;
    paused: number;
    cancelled: number;
    expired: number;
    suppressed: number;
    delivered: number;
    read: number;
    undelivered: number;
    tracking: number;
  };
  priority: string;
  weight: number;
  campaignRate: number | null;
  startedAt: string | null;
  finishedAt: string | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function summaryOf(c: CampaignCounts, enqueuedAt: number | null): CampaignSummary {
  const state = consoleState(c);
  return {
    name: c.campaign,
    state,
    counts: {
      total: c.total,
      sent: endedOf(c),
      accepted: c.completed,
      failed: c.failed,
      waiting: c.waiting + c.scheduled + c.delayed,
      active: c.active,
      paused: c.paused,
      cancelled: c.cancelled,
      expired: c.expired,
      suppressed: c.suppressed,
      delivered: c.delivery.delivered,
      read: c.delivery.read,
      undelivered: c.delivery.undelivered,
      tracking: c.delivery.tracking,
    },
    priority: c.schedule.priority,
    weight: c.schedule.weight,
    campaignRate: c.schedule.campaignRate,
    startedAt: iso(enqueuedAt),
    // Set once nothing of it waits or is on the wire (sent, failed, cancelled or expired).
    finishedAt: c.total > 0 && endedOf(c) >= c.total ? iso(c.finishedAt) : null,
  };
}

export interface CampaignPage extends CampaignSummary {
  /** Accepted → delivered → read, each with its share of the one before it (0..1; null: none). */
  funnel: Array<{ step: 'accepted' | 'delivered' | 'read'; count: number; share: number | null }>;
  /** Failed messages by the gateway's code, with the code's name. */
  failures: Array<{ code: number; name: string; count: number }>;
  schedule: CampaignCounts['schedule'];
  opensAt: string | null;
  /** Accepted and delivered per minute since it began. */
  timeline: Array<{ at: string; accepted: number; delivered: number }>;
  /**
   * Its SMS fallbacks (src/fallback.ts): made → sent → delivered, then what did not get there;
   * null while it made none.
   */
  sms: Array<{ step: string; count: number }> | null;
}

export function pageOf(
  c: CampaignCounts,
  enqueuedAt: number | null,
  timeline: ReadonlyArray<{ at: number; accepted: number; delivered: number }>,
): CampaignPage {
  const share = (n: number, of: number) => (of > 0 ? n / of : null);
  const failures = Object.entries(c.byStatus)
    .map(([code, count]) => ({ code: Number(code), count }))
    .filter((f) => f.code !== 1 && f.count > 0)
    .map((f) => ({ ...f, name: codeName('message', f.code) }))
    .sort((a, b) => b.count - a.count);
  return {
    ...summaryOf(c, enqueuedAt),
    funnel: [
      { step: 'accepted', count: c.completed, share: share(c.completed, c.total) },
      {
        step: 'delivered',
        count: c.delivery.delivered,
        share: share(c.delivery.delivered, c.completed),
      },
      { step: 'read', count: c.delivery.read, share: share(c.delivery.read, c.delivery.delivered) },
    ],
    failures,
    schedule: c.schedule,
    opensAt: iso(c.opensAt),
    timeline: timeline.map((t) => ({ ...t, at: new Date(t.at).toISOString() })),
    sms: smsSteps(c.sms),
  };
}

function smsSteps(s: SmsCounts): CampaignPage['sms'] {
  if (s.total === 0) return null;
  const steps = [
    { step: 'fallbacks', count: s.total },
    { step: 'sent', count: s.sent },
    { step: 'delivered', count: s.delivered },
  ];
  const rest = {
    waiting: s.waiting,
    paused: s.paused,
    tracking: s.tracking,
    undelivered: s.undelivered,
    unknown: s.unknown,
    failed: s.failed,
    'never sent': s.unsent,
  };
  for (const [step, count] of Object.entries(rest)) if (count > 0) steps.push({ step, count });
  return steps;
}

/** A phone number with its middle hidden: +38097•••4567. */
export function maskPhone(phone: string | null): string | null {
  if (phone === null) return null;
  if (phone.length <= 6) return '•'.repeat(phone.length);
  return `${phone.slice(0, 6)}${'•'.repeat(Math.max(0, phone.length - 10))}${phone.slice(-4)}`;
}

/** One message as the console's search shows it: the phone partly masked. */
export function messageOf(r: MessageResult): MessageResult {
  return { ...r, phone: maskPhone(r.phone) };
}
