/**
 * The webhook outbox in Redis (keys.ts `vb:wh*`): the scripts that change a message's outcome
 * append its event there in the same step (src/commands/includes/outbox.lua); a sender takes a
 * request's worth at a time, leased (whClaim-5.lua), and settles what the request came to. A
 * request keeps its events together through retries, so its `webhook-id` stays the same. Events
 * survive a sender's kill -9 (the lease runs out, another sender takes the request) and, with
 * AOF, a Redis restart.
 */
import { randomBytes } from 'node:crypto';
import { defineCommands } from '../commands/index.js';
import type { QueueKeys } from '../keys.js';
import type { RedisClient } from '../redis.js';

interface OutboxCommands {
  vbWhOpen(key: string, cap: number, epoch: string): Promise<string>;
  vbWhClaim(...args: (string | number)[]): Promise<string[]>;
  vbWhSettle(...args: (string | number)[]): Promise<[number, number, number]>;
  vbWhDead(...args: (string | number)[]): Promise<number>;
}

/** One request's events as the outbox holds them, leased to the sender that took them. */
export interface HeldRequest {
  id: string;
  /** Its events as the scripts wrote them: a JSON array, each with its id and `at` in ms. */
  body: string;
  /** Failed attempts so far. */
  tries: number;
  /** When its first attempt failed (ms), if one did. */
  firstFailureAt: number | undefined;
  /** What the last failed attempt came to: `HTTP 500`, `timeout`, `ECONNREFUSED`… */
  lastError: string | undefined;
}

export interface OutboxStats {
  /** Events are written (a worker with a webhook URL turned the outbox on). */
  on: boolean;
  /** Most events held. */
  cap: number | undefined;
  /** Events waiting to be delivered (new, in a request, or waiting for a retry). */
  queued: number;
  /** Events given up, kept for `webhooks --failed`. */
  failed: number;
  /** Events not written because the outbox was full, ever. */
  dropped: number;
  /** Set while the endpoint is marked gone (it answered 410): when, and what answered. */
  gone: string | undefined;
}

export type SettleOp = 'd' | 'r' | 'b';

export class Outbox {
  private readonly redis: RedisClient & OutboxCommands;

  constructor(
    redis: RedisClient,
    private readonly keys: QueueKeys,
  ) {
    defineCommands(redis);
    this.redis = redis as RedisClient & OutboxCommands;
  }

  /** Turns event writing on with this cap; returns the `gone` mark instead while it is set. */
  async turnOn(cap: number): Promise<string | undefined> {
    const gone = await this.redis.vbWhOpen(
      this.keys.webhook,
      cap,
      randomBytes(6).toString('base64url'),
    );
    return gone === '' ? undefined : gone;
  }

  /** Turns event writing off; what is held stays, and is still delivered. */
  async turnOff(): Promise<void> {
    await this.redis.hdel(this.keys.webhook, 'cap');
  }

  /** Marks the endpoint gone (a 410): nothing more is written or taken until `enable`. */
  async markGone(what: string): Promise<void> {
    await this.redis.hset(this.keys.webhook, 'gone', `${new Date().toISOString()} ${what}`);
    await this.redis.hdel(this.keys.webhook, 'cap');
  }

  /** Clears the gone mark; workers with a webhook URL turn writing on again within seconds. */
  async enable(): Promise<boolean> {
    return (await this.redis.hdel(this.keys.webhook, 'gone')) === 1;
  }

  /**
   * A request's events, leased for `leaseMs`: one that is due again (a retry, or a lease that ran
   * out) as it was, else up to `max` new events; undefined when there are none.
   */
  async claim(max: number, leaseMs: number, now = Date.now()): Promise<HeldRequest | undefined> {
    const k = this.keys;
    const raw = await this.redis.vbWhClaim(
      k.webhook,
      k.webhookNew,
      k.webhookDue,
      k.webhookEvents,
      k.webhookTries,
      now,
      leaseMs,
      max,
    );
    if (raw.length < 3) return undefined;
    return { id: raw[0] as string, body: raw[1] as string, ...parseTries(raw[2]) };
  }

  /** What a request of `events` events came to; returns delivered, retried, given up (events). */
  async settle(
    request: { id: string; op: SettleOp; due: number; events: number },
    retryForMs: number,
    lastError: string,
    now = Date.now(),
  ): Promise<{ delivered: number; retried: number; givenUp: number }> {
    const k = this.keys;
    const [delivered, retried, givenUp] = await this.redis.vbWhSettle(
      k.webhook,
      k.webhookDue,
      k.webhookEvents,
      k.webhookTries,
      k.webhookDead,
      now,
      retryForMs,
      lastError.slice(0, 100),
      request.id,
      request.op,
      request.due,
      request.events,
    );
    return { delivered, retried, givenUp };
  }

  async stats(): Promise<OutboxStats> {
    const cfg = await this.redis.hmget(
      this.keys.webhook,
      'cap',
      'held',
      'failed',
      'dropped',
      'gone',
    );
    const n = (v: string | null | undefined) => Number(v ?? 0);
    return {
      on: cfg[0] !== null,
      cap: cfg[0] === null ? undefined : Number(cfg[0]),
      queued: n(cfg[1]) - n(cfg[2]),
      failed: n(cfg[2]),
      dropped: n(cfg[3]),
      gone: cfg[4] ?? undefined,
    };
  }

  /** Given-up requests, oldest first, with when each was given up. */
  async failed(offset = 0, count = 100): Promise<Array<HeldRequest & { givenUpAt: number }>> {
    const k = this.keys;
    const raw = await this.redis.zrange(k.webhookDead, offset, offset + count - 1, 'WITHSCORES');
    if (raw.length === 0) return [];
    const ids = raw.filter((_, i) => i % 2 === 0);
    const [bodies, tries] = await Promise.all([
      this.redis.hmget(k.webhookEvents, ...ids),
      this.redis.hmget(k.webhookTries, ...ids),
    ]);
    return ids.flatMap((id, i) => {
      const body = bodies[i];
      if (!body) return [];
      return [{ id, body, ...parseTries(tries[i]), givenUpAt: Number(raw[2 * i + 1]) }];
    });
  }

  /** Given-up requests due again now (`resend`) or deleted (`discard`); returns how many events. */
  async dead(op: 'resend' | 'discard'): Promise<number> {
    const k = this.keys;
    let n = 0;
    // A page at a time: one script call holds Redis for a bounded time.
    for (;;) {
      const before = await this.redis.zcard(k.webhookDead);
      if (before === 0) break;
      n += await this.redis.vbWhDead(
        k.webhook,
        k.webhookDue,
        k.webhookEvents,
        k.webhookTries,
        k.webhookDead,
        op,
        100,
        Date.now(),
      );
    }
    return n;
  }
}

function parseTries(raw: string | null | undefined): Omit<HeldRequest, 'id' | 'body'> {
  const m = raw ? /^(\d+):(\d+):(.*)$/s.exec(raw) : null;
  if (!m) return { tries: 0, firstFailureAt: undefined, lastError: undefined };
  return { tries: Number(m[1]), firstFailureAt: Number(m[2]), lastError: m[3] || undefined };
}
