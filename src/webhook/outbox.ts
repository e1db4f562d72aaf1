/**
 * The webhook outbox in Redis (keys.ts `vb:wh*`): the scripts that change a message's outcome
 * write its event there in the same step (src/commands/includes/outbox.lua); senders take events
 * from it (a lease each), and settle what each request came to. Events survive a sender's
 * kill -9 (the lease runs out, another sender takes them) and, with AOF, a Redis restart.
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

/** An event as the outbox holds it. */
export interface HeldEvent {
  id: string;
  /** Its JSON as a script wrote it: no id, `at` in ms. */
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
  /** Events waiting to be delivered (due, leased or waiting for a retry). */
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
  async open(cap: number): Promise<string | undefined> {
    const gone = await this.redis.vbWhOpen(
      this.keys.webhook,
      cap,
      randomBytes(6).toString('base64url'),
    );
    return gone === '' ? undefined : gone;
  }

  /** Turns event writing off; what is held stays, and is still delivered. */
  async close(): Promise<void> {
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

  /** Up to `max` due events, each leased for `leaseMs`. */
  async claim(max: number, leaseMs: number, now = Date.now()): Promise<HeldEvent[]> {
    const k = this.keys;
    const raw = await this.redis.vbWhClaim(
      k.webhook,
      k.webhookDue,
      k.webhookEvents,
      k.webhookTries,
      now,
      leaseMs,
      max,
    );
    const out: HeldEvent[] = [];
    for (let i = 0; i + 2 < raw.length; i += 3) {
      out.push({ id: raw[i] as string, body: raw[i + 1] as string, ...parseTries(raw[i + 2]) });
    }
    return out;
  }

  /** What a request came to for each of its events; returns delivered, retried, given up. */
  async settle(
    changes: ReadonlyArray<{ id: string; op: SettleOp; due: number }>,
    retryForMs: number,
    lastError: string,
    now = Date.now(),
  ): Promise<{ delivered: number; retried: number; givenUp: number }> {
    const k = this.keys;
    const args: (string | number)[] = [now, retryForMs, lastError.slice(0, 100)];
    for (const c of changes) args.push(c.id, c.op, c.due);
    const [delivered, retried, givenUp] = await this.redis.vbWhSettle(
      k.webhook,
      k.webhookDue,
      k.webhookEvents,
      k.webhookTries,
      k.webhookDead,
      ...args,
    );
    return { delivered, retried, givenUp };
  }

  async stats(): Promise<OutboxStats> {
    const k = this.keys;
    const [cfg, queued, failed] = await Promise.all([
      this.redis.hmget(k.webhook, 'cap', 'dropped', 'gone'),
      this.redis.zcard(k.webhookDue),
      this.redis.zcard(k.webhookDead),
    ]);
    return {
      on: cfg[0] !== null,
      cap: cfg[0] === null ? undefined : Number(cfg[0]),
      queued,
      failed,
      dropped: Number(cfg[1] ?? 0),
      gone: cfg[2] ?? undefined,
    };
  }

  /** Given-up events, oldest first, with when each was given up. */
  async failed(offset = 0, count = 1000): Promise<Array<HeldEvent & { givenUpAt: number }>> {
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

  /** Given-up events due again now (`resend`) or deleted (`discard`); returns how many. */
  async dead(op: 'resend' | 'discard', max = 1_000_000): Promise<number> {
    const k = this.keys;
    let n = 0;
    // A page at a time: one script call holds Redis for a bounded time.
    for (;;) {
      const page = Math.min(1000, max - n);
      if (page <= 0) break;
      const moved = await this.redis.vbWhDead(
        k.webhook,
        k.webhookDue,
        k.webhookEvents,
        k.webhookTries,
        k.webhookDead,
        op,
        page,
        Date.now(),
      );
      n += moved;
      if (moved < page) break;
    }
    return n;
  }
}

function parseTries(raw: string | null | undefined): Omit<HeldEvent, 'id' | 'body'> {
  const m = raw ? /^(\d+):(\d+):(.*)$/s.exec(raw) : null;
  if (!m) return { tries: 0, firstFailureAt: undefined, lastError: undefined };
  return { tries: Number(m[1]), firstFailureAt: Number(m[2]), lastError: m[3] || undefined };
}
