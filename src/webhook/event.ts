/**
 * Webhook events as a receiver gets them, and the pieces of a request that do not need the
 * network: the body, its Standard Webhooks id, the wait before the next attempt. Pure.
 */
import { createHash } from 'node:crypto';

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
  | 'campaign.finished';

/** One event; fields that do not apply to its type are absent. */
export interface WebhookEvent {
  /** The event's own id, unique on the queue (and across a Redis that lost its data). */
  id: string;
  type: WebhookEventType;
  campaign: string;
  /** The message's id as it was enqueued (message events). */
  messageId?: number;
  /** The gateway's msg_id (accepted, and the delivery events of an accepted message). */
  msgId?: number;
  /** The gateway's code: a failure's, or the latest delivery code. */
  code?: number;
  /** Why it failed (message.failed). */
  reason?: string;
  /** The campaign's messages by how they ended (campaign.finished). */
  counts?: Record<string, number>;
  /** When the change was recorded, ISO 8601 UTC. */
  at: string;
}

/** An event as a script stored it: the same, `at` in ms. */
type Stored = Omit<WebhookEvent, 'at'> & { at: number };

/** An event as a receiver gets it, from what a script stored (`at` in ms); undefined if unreadable. */
export function eventOf(s: Stored): WebhookEvent | undefined {
  if (!s || typeof s.id !== 'string' || typeof s.type !== 'string' || typeof s.at !== 'number') {
    return undefined;
  }
  // Members in the order the README documents them; those that do not apply are absent.
  return {
    id: s.id,
    type: s.type,
    campaign: s.campaign,
    ...(s.messageId !== undefined && { messageId: s.messageId }),
    ...(s.msgId !== undefined && { msgId: s.msgId }),
    ...(s.code !== undefined && { code: s.code }),
    ...(s.reason !== undefined && { reason: s.reason }),
    ...(s.counts !== undefined && { counts: s.counts }),
    at: new Date(s.at).toISOString(),
  };
}

/**
 * A request's events from the JSON array the outbox holds: those that read, and how many did not
 * (undefined: the array itself did not).
 */
export function eventsOf(body: string): { events: WebhookEvent[]; unreadable: number } | undefined {
  let list: unknown;
  try {
    list = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!Array.isArray(list)) return undefined;
  const events: WebhookEvent[] = [];
  for (const s of list) {
    const e = eventOf(s as Stored);
    if (e) events.push(e);
  }
  return { events, unreadable: list.length - events.length };
}

/** The request body: `{ "events": [ … ] }`. */
export function requestBody(events: readonly WebhookEvent[]): string {
  return JSON.stringify({ events });
}

/**
 * The request's `webhook-id`: the same for the same events (a retry of a request is recognisably
 * the same message), different for any other set.
 */
export function requestId(eventIds: readonly string[]): string {
  return `msg_${createHash('sha256').update(eventIds.join(',')).digest('base64url').slice(0, 24)}`;
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
