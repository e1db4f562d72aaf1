/**
 * Webhook events as a receiver gets them, and the pieces of a request that do not need the
 * network: the body, its Standard Webhooks id, the wait before the next attempt. Pure.
 */

export type WebhookEventType =
  | 'message.accepted'
  | 'message.failed'
  | 'message.delivered'
  | 'message.read'
  | 'message.undelivered'
  | 'message.unknown'
  | 'message.expired'
  | 'message.cancelled'
  | 'message.suppressed'
  | 'message.sms_accepted'
  | 'message.sms_delivered'
  | 'message.sms_failed'
  | 'campaign.finished';

/** One event; fields that do not apply to its type are absent. */
export interface WebhookEvent {
  /** The event's own id, unique on the queue (and across a Redis that lost its data). */
  id: string;
  type: WebhookEventType;
  campaign: string;
  /** The message's id as it was enqueued (message events). */
  messageId?: number;
  /**
   * The gateway's msg_id (accepted, and the delivery events of an accepted message); the SMS's
   * own in the `message.sms_*` events.
   */
  msgId?: number;
  /**
   * How the SMS fallback ended (message.sms_failed): failed, undelivered, unknown, cancelled,
   * expired or suppressed.
   */
  state?: string;
  /** The gateway's code: a failure's, or the latest delivery code. */
  code?: number;
  /** Why it failed (message.failed). */
  reason?: string;
  /** The campaign's messages by how they ended (campaign.finished). */
  counts?: Record<string, number>;
  /** When the change was recorded, ISO 8601 UTC. */
  at: string;
}

/** An event as read back from the outbox, if it has the members every event has. */
function eventOf(s: unknown): WebhookEvent | undefined {
  const e = s as Partial<WebhookEvent> | null;
  return e &&
    typeof e === 'object' &&
    typeof e.id === 'string' &&
    typeof e.type === 'string' &&
    typeof e.campaign === 'string' &&
    typeof e.at === 'string'
    ? (e as WebhookEvent)
    : undefined;
}

/** A request's events from the JSON array the outbox holds (`webhooks --failed`): those that read. */
export function eventsOf(body: string): WebhookEvent[] {
  let list: unknown;
  try {
    list = JSON.parse(body);
  } catch {
    return [];
  }
  return Array.isArray(list) ? list.flatMap((s) => eventOf(s) ?? []) : [];
}

/**
 * The request body, `{ "events": [ … ] }`, around a request's events as the outbox holds them:
 * the scripts write each event as the receiver gets it, so nothing is parsed or rebuilt here.
 */
export function requestBody(events: string): string {
  return `{"events":${events}}`;
}

/** The events of a request body, counted by the `{"id":"` that opens each (escaped in a text). */
export function countEvents(events: string): number {
  let n = 0;
  for (let at = events.indexOf('{"id":"'); at !== -1; at = events.indexOf('{"id":"', at + 7)) n++;
  return n;
}

/** When its first (oldest) event was recorded, ms; undefined when it has none that reads. */
export function firstEventAt(events: string): number | undefined {
  const m = /"at":"([^"]{1,40})"/.exec(events);
  const ms = m ? Date.parse(m[1] as string) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * The request's `webhook-id`: its outbox id (`<epoch>.r<n>`), the same for every retry of the
 * request and unique across a Redis that lost its data (a new epoch).
 */
export function requestId(outboxId: string): string {
  return `msg_${outboxId}`;
}

/**
 * The wait before attempt `tries + 1` of a request whose events failed `tries` times: doubling
 * from `firstMs` up to `maxMs`, each wait drawn from its upper half (jitter: senders that failed
 * together do not come back together).
 */
export function retryDelay(
  tries: number,
  firstMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const full = Math.min(maxMs, firstMs * 2 ** Math.min(Math.max(tries - 1, 0), 40));
  return Math.round(full / 2 + (random() * full) / 2);
}
