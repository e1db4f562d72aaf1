/**
 * Delivers the queue's webhook events (src/webhook/outbox.ts) to one endpoint, at least once:
 * `concurrency` lanes, each taking a request's worth — up to `batchSize` events, leased — and
 * POSTing it as one signed request (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
 * `webhook-signature`), the events as the scripts wrote them; then settling what the answer
 * says: 2xx delivered; 410 the endpoint is gone (nothing more is written or sent until
 * `viber-bulk webhooks --enable`); anything else, a whole-request timeout or a refused connection
 * is retried with backoff and jitter until `retryForMs` after the first failure, then given up
 * and kept. A lane that found less than a full batch waits `flushMs`.
 *
 * It runs beside sending on a Redis connection and an HTTP pool of its own: a slow, failing or
 * absent endpoint fills the outbox, never the send path.
 */
import { Pool } from 'undici';
import type { Logger } from 'pino';
import type { QueueKeys } from '../keys.js';
import { closeRedis, type RedisClient } from '../redis.js';
import { countEvents, firstEventAt, requestBody, requestId, retryDelay } from './event.js';
import { Outbox, type OutboxStats, type SettleOp } from './outbox.js';
import { shownUrl, type ResolvedWebhookOptions } from './options.js';

/** What one request came to (metrics, logs). */
export interface WebhookReport {
  events: number;
  /** `2xx`, `410`, `HTTP <n>`, `timeout`, or a connection error's code. */
  result: string;
  durationMs: number;
  delivered: number;
  retried: number;
  givenUp: number;
  /** Age of the request's oldest event when it was delivered (from its change), ms. */
  oldestAgeMs: number | undefined;
}

export interface SenderHooks {
  logger: Logger;
  onReport?: (r: WebhookReport) => void;
}

/** The most of an answer's body read (and dropped): a receiver's page is not ours to keep. */
const ANSWER_BYTES = 64 * 1024;
/** How often the outbox is kept on and its drops are looked at, ms. */
const WATCH_MS = 5000;

export class WebhookSender {
  readonly outbox: Outbox;
  private readonly pool: Pool;
  private readonly path: string;
  private readonly abort = new AbortController();
  private lanes: Array<Promise<void>> = [];
  private watchTimer: NodeJS.Timeout | undefined;
  private dropped: number | undefined;
  private goneLogged = false;
  private lastFailure = { message: '', at: 0 };
  private closing: Promise<void> | undefined;

  /** @param redis a connection of its own, which close() quits */
  constructor(
    private readonly redis: RedisClient,
    keys: QueueKeys,
    private readonly options: ResolvedWebhookOptions,
    private readonly hooks: SenderHooks,
  ) {
    this.outbox = new Outbox(redis, keys);
    const u = new URL(options.url);
    this.path = u.pathname + u.search;
    this.pool = new Pool(u.origin, {
      connections: options.concurrency,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      keepAliveTimeout: 10_000,
    });
  }

  /** Turns the outbox on and starts the lanes. */
  async start(): Promise<void> {
    await this.watch();
    this.watchTimer = setInterval(() => void this.watch(), WATCH_MS);
    this.watchTimer.unref();
    for (let i = 0; i < this.options.concurrency; i++) this.lanes.push(this.lane());
  }

  /** The outbox's numbers now. */
  stats(): Promise<OutboxStats> {
    return this.outbox.stats();
  }

  /** Keeps the outbox on (a worker restarted after a 410 finds it gone) and warns of drops. */
  private async watch(): Promise<void> {
    try {
      const gone = await this.outbox.turnOn(this.options.outboxLimit);
      if (gone !== undefined) this.logGone(gone);
      else this.goneLogged = false;
      const s = await this.outbox.stats();
      if (this.dropped !== undefined && s.dropped > this.dropped) {
        this.hooks.logger.warn(
          {
            held: s.queued + s.failed,
            limit: this.options.outboxLimit,
            dropped: s.dropped - this.dropped,
          },
          'webhook outbox is full: new events are dropped (raise the outbox limit, or fix the endpoint)',
        );
      }
      this.dropped = s.dropped;
    } catch (err) {
      this.hooks.logger.warn({ err: (err as Error).message }, 'webhook outbox check failed');
    }
  }

  private logGone(gone: string): void {
    if (this.goneLogged) return;
    this.goneLogged = true;
    this.hooks.logger.error(
      { url: shownUrl(this.options.url), gone },
      'webhook endpoint answered 410 Gone: webhooks are off for this queue until `viber-bulk webhooks --enable`',
    );
  }

  /** A failed round (Redis away, say) is logged once a minute, not once a lane a second. */
  private roundFailed(err: Error): void {
    const now = Date.now();
    if (err.message === this.lastFailure.message && now - this.lastFailure.at < 60_000) return;
    this.lastFailure = { message: err.message, at: now };
    this.hooks.logger.warn({ err: err.message }, 'webhook round failed; retrying');
  }

  private async lane(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      let full = false;
      try {
        full = await this.round();
      } catch (err) {
        if (signal.aborted) break;
        this.roundFailed(err as Error);
      }
      if (!full) await sleep(this.options.flushMs, signal);
    }
  }

  /** One request, if anything is due; true when it carried a full batch (more may be due). */
  private async round(): Promise<boolean> {
    const o = this.options;
    // The lease outlives the request's deadline: a live sender always settles its own events.
    const held = await this.outbox.claim(o.batchSize, 2 * o.timeoutMs + 1000);
    if (!held) return false;
    const events = countEvents(held.body);
    const settle = (op: SettleOp, due: number, result: string, now: number) =>
      this.outbox.settle({ id: held.id, op, due, events }, o.retryForMs, result, now);
    const started = Date.now();
    const result = await this.post(held.id, held.body);
    const now = Date.now();
    let op: SettleOp;
    let due = now;
    if (result === '2xx') op = 'd';
    else if (result === '410') {
      op = 'b';
      await this.outbox.markGone(`${shownUrl(o.url)} answered 410`);
      this.logGone('just now');
    } else if (this.abort.signal.aborted) op = 'b';
    else {
      op = 'r';
      due = now + retryDelay(held.tries + 1, o.retryDelayMs, o.retryMaxDelayMs);
    }
    const settled = await settle(op, due, result, now);
    if (settled.givenUp > 0) {
      this.hooks.logger.warn(
        { events: settled.givenUp, result, retryForMs: o.retryForMs },
        'webhook events given up: see `viber-bulk webhooks --failed`',
      );
    } else if (op === 'r') {
      this.hooks.logger.debug(
        { events, result, dueInMs: due - now },
        'webhook request failed; retrying later',
      );
    }
    const first = op === 'd' ? firstEventAt(held.body) : undefined;
    this.hooks.onReport?.({
      events,
      result,
      durationMs: now - started,
      ...settled,
      oldestAgeMs: first === undefined ? undefined : now - first,
    });
    return result === '2xx' && events === o.batchSize;
  }

  /** POSTs a request's events, signed: `2xx`, `410`, `HTTP <n>`, `timeout` or an error's code. */
  private async post(outboxId: string, events: string): Promise<string> {
    const o = this.options;
    const body = requestBody(events);
    const id = requestId(outboxId);
    const at = new Date();
    const deadline = AbortSignal.timeout(o.timeoutMs);
    try {
      const res = await this.pool.request({
        path: this.path,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'viber-bulk-webhooks',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': o.signer.sign(id, at, body),
        },
        body,
        signal: AbortSignal.any([this.abort.signal, deadline]),
      });
      await res.body.dump({ limit: ANSWER_BYTES }).catch(() => undefined);
      if (res.statusCode >= 200 && res.statusCode < 300) return '2xx';
      if (res.statusCode === 410) return '410';
      return `HTTP ${res.statusCode}`;
    } catch (err) {
      if (deadline.aborted) return 'timeout';
      const code = (err as { code?: unknown }).code;
      return typeof code === 'string' ? code.slice(0, 40) : 'error';
    }
  }

  /** Stops the lanes: requests in flight are aborted, their events due again at once. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.watchTimer);
      this.abort.abort(new Error('closing'));
      await Promise.all(this.lanes);
      await this.pool.close().catch(() => undefined);
      await closeRedis(this.redis);
    })();
    return this.closing;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
