/**
 * Delivery tracking, pure: what one `<status>` answer (or its silence) means for one tracked
 * message, and when to ask about it next. No Redis, no clock: `now` is an argument.
 *
 * A tracked message goes:
 *   tracking --final code 102--> delivered (still watched for 116 READ during the read window,
 *                                 then done; read window 0: done at once)
 *   tracking|delivered --116--> read (done; counted delivered too, once)
 *   tracking --any other final code--> undelivered (done)
 *   tracking --horizon (trackForMs after acceptance) passed--> unknown (done)
 *   on the way (1, 100, 101, 106, 107, 110), a code the docs do not list, or no answer for it:
 *   stays tracking, asked again after an interval that doubles from trackAfterMs up to
 *   trackMaxIntervalMs, never past the horizon.
 *
 * The read watch is spaced by the delivery's age, not by trackMaxIntervalMs: a delivered message is
 * asked when it is trackAfterMs × 4^k old (1 min, 4 min, 16 min, 64 min, 4.3 h, 17 h with the
 * defaults) and once more at the end of the read window — 7 questions for a day's window where a
 * 30-minute spacing would take 48. Reads cluster soon after delivery, where the questions are
 * dense. The read time itself is the 116's date_completed when the gateway gives one (the record's
 * readAt); without it, the read happened before checkedAt and after the question before that one,
 * which a delivered message's schedule puts at most 3/4 of its age since delivery earlier.
 *
 * Campaign counts move with it (fields of the campaign's counts hash, see DELIVERY_FIELDS):
 * `tracking` while tracked; `delivered` (102 or 116, once), `read` (116), `undelivered`, `unknown`
 * once each; `dcode:<n>` the messages whose latest delivery code is n.
 */
import { codeName, DELIVERED, READ } from '../xml/codes.js';
import { parseGatewayDate, type StatusResult } from '../xml/parse.js';
import type { DeliveryRecord } from '../job.js';

/** Codes that do not change again (../shared/spec/alphasms-xml-api.md). 116 READ is final too. */
export const FINAL_CODES: ReadonlySet<number> = new Set([
  102, 103, 104, 105, 108, 109, 111, 112, 113,
]);
export { DELIVERED, READ };

export interface TrackingSettings {
  /** First `<status>` this long after acceptance, ms. */
  trackAfterMs: number;
  /** Longest interval between two questions about one message, ms. */
  trackMaxIntervalMs: number;
  /** Give up (record `unknown`) this long after acceptance, ms. */
  trackForMs: number;
  /** Watch a delivered message for 116 READ this long, ms; 0: not at all. */
  readWindowMs: number;
}

/** What the store keeps for a tracked message (one short string, see encodeInfo). */
export interface TrackInfo {
  campaign: string;
  /** When the gateway accepted it, ms. */
  acceptedAt: number;
  /** The interval used for the last question, ms (0: not asked yet). */
  intervalMs: number;
  /** Its latest delivery code, if the gateway gave one. */
  code: number | undefined;
  /** When it was delivered (ms), once it was. */
  deliveredAt: number | undefined;
}

export interface TrackStep {
  /** The new stored info, or undefined: tracking of this message is over. */
  info: TrackInfo | undefined;
  /** When to ask next (with `info`). */
  dueAt: number;
  record: DeliveryRecord;
  /** Count changes for the campaign's counts hash: field → by. */
  deltas: Record<string, number>;
}

const iso = (ms: number | undefined): string | null =>
  ms === undefined ? null : new Date(ms).toISOString();

function bump(d: Record<string, number>, field: string, by: number): void {
  d[field] = (d[field] ?? 0) + by;
}

/** Delivery events in the order a receiver sees them: a read message is delivered first. */
const EVENT_KINDS = ['delivered', 'read', 'undelivered', 'unknown'] as const;

/**
 * The webhook events one step makes (src/commands/includes/outbox.lua): their kinds, and the
 * members each carries — the gateway's msg_id (asked for only when there is an event) and the
 * latest delivery code.
 */
export function stepEvents(
  step: TrackStep,
  msgId: () => number | undefined,
  code: number | undefined,
): { kinds: string; members: string } {
  const kinds = EVENT_KINDS.filter((k) => (step.deltas[k] ?? 0) > 0).join(',');
  if (kinds === '') return { kinds, members: '' };
  const id = msgId();
  return {
    kinds,
    members:
      (id === undefined ? '' : `,"msgId":${id}`) + (code === undefined ? '' : `,"code":${code}`),
  };
}

/** When tracking starts: the first question after `trackAfterMs`. */
export function startInfo(campaign: string, acceptedAt: number): TrackInfo {
  return { campaign, acceptedAt, intervalMs: 0, code: undefined, deliveredAt: undefined };
}

/**
 * One step for one message: `status` is its `<msg>` in the answer, or undefined when the answer
 * left it out (it stays tracked). Deterministic in its arguments.
 */
export function trackStep(
  info: TrackInfo,
  status: StatusResult | undefined,
  now: number,
  s: TrackingSettings,
): TrackStep {
  const deltas: Record<string, number> = {};
  const code = status?.code ?? info.code;
  if (status && status.code !== info.code) {
    if (info.code !== undefined) bump(deltas, `dcode:${info.code}`, -1);
    bump(deltas, `dcode:${status.code}`, 1);
  }
  const completed = parseGatewayDate(status?.dateCompleted);
  let deliveredAt = info.deliveredAt;
  let state: DeliveryRecord['state'] = deliveredAt === undefined ? 'tracking' : 'delivered';
  let done = false;
  if (code === READ || code === DELIVERED) {
    if (deliveredAt === undefined) {
      // A message seen READ without DELIVERED first was delivered all the same.
      deliveredAt = completed ?? now;
      bump(deltas, 'delivered', 1);
    }
    if (code === READ) {
      bump(deltas, 'read', 1);
      state = 'read';
      done = true;
    } else {
      state = 'delivered';
      done = s.readWindowMs === 0 || now >= deliveredAt + s.readWindowMs;
      if (done) state = 'done';
    }
  } else if (code !== undefined && FINAL_CODES.has(code)) {
    bump(deltas, 'undelivered', 1);
    state = 'undelivered';
    done = true;
  } else if (now >= info.acceptedAt + s.trackForMs) {
    // Still on its way (or silent) at the horizon: it will not turn final now.
    bump(deltas, 'unknown', 1);
    state = 'unknown';
    done = true;
  }
  if (done) bump(deltas, 'tracking', -1);
  const record: DeliveryRecord = {
    code: code ?? null,
    name: code === undefined ? null : codeName('message', code),
    state,
    dateCompleted: status?.dateCompleted ?? null,
    completedAt: iso(completed),
    deliveredAt: iso(deliveredAt),
    readAt: code === READ ? iso(completed) : null,
    smsCount: status?.smsCount ?? null,
    checkedAt: new Date(now).toISOString(),
  };
  if (done) return { info: undefined, dueAt: 0, record, deltas };
  if (deliveredAt !== undefined) {
    const dueAt = Math.max(now + 1, readWatchDue(deliveredAt, now, s));
    return { info: { ...info, intervalMs: dueAt - now, code, deliveredAt }, dueAt, record, deltas };
  }
  const intervalMs = Math.min(
    info.intervalMs === 0 ? s.trackAfterMs : info.intervalMs * 2,
    s.trackMaxIntervalMs,
  );
  // Never past the horizon, the moment that ends tracking of a message on its way.
  const dueAt = Math.max(now + 1, Math.min(now + intervalMs, info.acceptedAt + s.trackForMs));
  return { info: { ...info, intervalMs, code, deliveredAt }, dueAt, record, deltas };
}

/** How much older a delivered message is at each question of the read watch than at the last. */
export const READ_WATCH_FACTOR = 4;

/**
 * The next question of a delivered message's read watch: the first age trackAfterMs × 4^k past
 * `now`, or the end of the read window, whichever is sooner.
 */
export function readWatchDue(deliveredAt: number, now: number, s: TrackingSettings): number {
  const end = deliveredAt + s.readWindowMs;
  let age = s.trackAfterMs;
  while (deliveredAt + age <= now && deliveredAt + age < end) age *= READ_WATCH_FACTOR;
  return Math.min(deliveredAt + age, end);
}

/** `campaign \t acceptedAt \t intervalMs \t code \t deliveredAt`: ~40 bytes a tracked message. */
export function encodeInfo(i: TrackInfo): string {
  return [i.campaign, i.acceptedAt, i.intervalMs, i.code ?? '', i.deliveredAt ?? ''].join('\t');
}

export function decodeInfo(raw: string): TrackInfo {
  const [campaign = '', acceptedAt = '0', intervalMs = '0', code = '', deliveredAt = ''] =
    raw.split('\t');
  return {
    campaign,
    acceptedAt: Number(acceptedAt),
    intervalMs: Number(intervalMs),
    code: code === '' ? undefined : Number(code),
    deliveredAt: deliveredAt === '' ? undefined : Number(deliveredAt),
  };
}
