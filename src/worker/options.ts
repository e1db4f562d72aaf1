import type { Logger } from 'pino';
import { InvalidOptionError } from '../errors.js';
import { DEFAULT_FALLBACK_CODES } from '../fallback.js';
import { DELIVERED, FINAL_CODES } from '../tracking/delivery.js';
import { checkGatewayKeys, type GatewayOptions } from '../gateway/options.js';
import type { GatewayClient } from '../gateway/client.js';
import {
  assertQueueName,
  checkKnownKeys,
  intInRange,
  optionKeys,
  stripUndefined,
} from '../options.js';

import {
  resolveWebhookOptions,
  webhookView,
  type ResolvedWebhookOptions,
  type WebhookOptions,
  type WebhookOptionsView,
} from '../webhook/options.js';
import { DEFAULT_REDIS_URL, queuePrefix, type RedisConnection } from '../redis.js';

/** Options of a send worker (library: `createWorker(opts)`; CLI: `viber-bulk worker`). */
export interface SendWorkerOptions {
  /** The gateway: URL, API key, timeouts, retries. */
  gateway: GatewayOptions;
  /**
   * Redis: a URL, or an ioredis client you own, created with `maxRetriesPerRequest: null`.
   * @defaultValue `redis://127.0.0.1:6379`
   */
  connection?: RedisConnection;
  /**
   * The queue to work.
   * @defaultValue `viber`
   */
  queueName?: string;
  /**
   * BullMQ key prefix (default `bull`; in a Redis Cluster `bull:{<queueName>}`, and one given
   * must carry a `{hash tag}`).
   * @defaultValue `bull`
   */
  prefix?: string;
  /**
   * Most messages in one package. The gateway documents no maximum; its client libraries use 50.
   * @defaultValue 50
   */
  batchSize?: number;
  /**
   * How long a campaign's backlog shorter than a package waits for more after its last enqueue
   * before the dispatcher packages it anyway, ms (a closing worker packages it at once).
   * @defaultValue 50
   */
  lingerMs?: number;
  /**
   * Packages in flight at once in this process (sending, or waiting for the rate limit).
   * @defaultValue 4
   */
  concurrency?: number;
  /**
   * Messages per second for the whole queue, shared by every worker process on it (a sliding
   * window in Redis). 0 means no limit.
   * @defaultValue 0
   */
  rate?: number;
  /**
   * The rate limit's window, ms. A little over 1000 absorbs network jitter between our clock and
   * the gateway's.
   * @defaultValue 1000
   */
  rateWindowMs?: number;
  /**
   * First pause after the gateway throttles us (package error 212), ms; doubles while it keeps
   * throttling, up to `throttleMaxMs`. Every worker on the queue pauses; the throttled package is
   * sent again afterwards, using no attempt.
   * @defaultValue 1000
   */
  throttleMs?: number;
  /**
   * Longest pause after repeated throttling, ms.
   * @defaultValue 60000
   */
  throttleMaxMs?: number;
  /**
   * BullMQ job lock, ms. A job whose worker died comes back after at most this long (plus the
   * stalled-check interval). Locks are renewed while a request is in flight.
   * @defaultValue 30000
   */
  lockDuration?: number;
  /**
   * How often stalled jobs (held by dead workers) are looked for, ms.
   * @defaultValue 15000
   */
  stalledInterval?: number;
  /**
   * How many times a job may come back from a dead worker before BullMQ fails it. High on purpose:
   * a worker crash must never fail a message.
   * @defaultValue 1000
   */
  maxStalledCount?: number;
  /**
   * Graceful shutdown: how long `close()` lets batches in flight finish before it aborts them and
   * hands their messages back to the queue, ms.
   * @defaultValue 20000
   */
  shutdownTimeoutMs?: number;
  /**
   * Messages the dispatcher keeps in packages (their jobs waiting or active) ahead of the
   * workers; the rest wait in their campaign's backlog, where priority, fair share, start times
   * and windows apply. Small: a `high` campaign waits behind at most this many messages. Shared
   * by all workers of the queue (the last one to dispatch sets it).
   * @defaultValue the queue's `rate` (one second of sending; at least 2 × batchSize), 5000 unlimited
   */
  releaseAhead?: number;
  /**
   * How often the dispatcher looks at the backlogs, ms (at once again after a full release).
   * @defaultValue 100
   */
  dispatchIntervalMs?: number;
  /**
   * Follow each accepted message with `<status>` until its delivery code is final (delivery
   * tracking, src/tracking). Off: nothing is asked after acceptance.
   * @defaultValue true
   */
  track?: boolean;
  /**
   * First `<status>` question this long after acceptance, ms; later ones twice as far apart each
   * time, up to `trackMaxIntervalMs`. A delivered message is asked again when it is this × 4^k old.
   * @defaultValue 60000
   */
  trackAfterMs?: number;
  /**
   * Longest interval between two questions about a message on its way (not yet final), ms. The
   * read watch of a delivered message is spaced by its age instead (src/tracking/delivery.ts).
   * @defaultValue 1800000 (30 min)
   */
  trackMaxIntervalMs?: number;
  /**
   * Give up on a message whose code is not final this long after acceptance, ms: it is recorded
   * as `unknown`. The gateway documents no lifetime for Viber over XML (its other APIs: 2 days).
   * @defaultValue 259200000 (72 h)
   */
  trackForMs?: number;
  /**
   * Watch a delivered message for 116 READ this long after delivery, ms; 0: not at all. It is
   * asked at ages `trackAfterMs` × 4^k and once at the window's end (7 questions for 24 h).
   * @defaultValue 86400000 (24 h)
   */
  readWindowMs?: number;
  /**
   * Message ids per `<status>` request (all campaigns mixed). The gateway documents no maximum.
   * @defaultValue 200
   */
  trackBatchSize?: number;
  /**
   * `<status>` requests per second for the whole queue, shared by every worker: tracking never
   * takes the send rate's place.
   * @defaultValue 5
   */
  trackRate?: number;
  /**
   * Final Viber codes after which a message that carries an SMS fallback is sent as an SMS
   * (src/fallback.ts; README "SMS fallback"); [] sends none. Only undelivered final codes.
   * @defaultValue [103, 105, 108, 109, 111]
   */
  fallbackCodes?: readonly number[];
  /**
   * Send the SMS fallback of a message whose tracking gave up (`unknown`) too. Off by default: the
   * Viber message may still arrive, and the recipient would get both.
   * @defaultValue false
   */
  fallbackOnUnknown?: boolean;
  /**
   * How often the worker asks the account's balance (`<balance>`), ms; 0: never. The first
   * question comes one interval after start. Exported as a metric; see `lowBalance`.
   * @defaultValue 300000 (5 min)
   */
  balanceIntervalMs?: number;
  /**
   * Log a warning (and emit `lowBalance`) when the balance is under this amount. Unset: no warning.
   */
  lowBalance?: number;
  /**
   * Purge campaigns that finished (and are no longer tracked) longer ago than this, ms; 0: never.
   * Looked at every 10 minutes (or every `keepFinishedMs`, if shorter, at least every second).
   * Export results you need before then.
   * @defaultValue 0
   */
  keepFinishedMs?: number;
  /**
   * Signed webhooks (src/webhook): every change of a message's outcome, and each campaign's end,
   * POSTed to this endpoint at least once. Off without it.
   */
  webhook?: WebhookOptions;
  /**
   * Logger (pino). Default: a silent one.
   */
  logger?: Logger;
}

export type ResolvedWorkerOptions = Required<
  Omit<SendWorkerOptions, 'logger' | 'lowBalance' | 'webhook'>
> & {
  logger: Logger | undefined;
  lowBalance: number | undefined;
  webhook: ResolvedWebhookOptions | undefined;
};

export const WORKER_DEFAULTS = {
  connection: DEFAULT_REDIS_URL,
  queueName: 'viber',
  batchSize: 50,
  lingerMs: 50,
  concurrency: 4,
  rate: 0,
  rateWindowMs: 1000,
  throttleMs: 1000,
  throttleMaxMs: 60_000,
  lockDuration: 30_000,
  stalledInterval: 15_000,
  maxStalledCount: 1000,
  shutdownTimeoutMs: 20_000,
  dispatchIntervalMs: 100,
  track: true,
  trackAfterMs: 60_000,
  trackMaxIntervalMs: 1_800_000,
  trackForMs: 72 * 3_600_000,
  readWindowMs: 24 * 3_600_000,
  trackBatchSize: 200,
  trackRate: 5,
  fallbackCodes: DEFAULT_FALLBACK_CODES,
  fallbackOnUnknown: false,
  balanceIntervalMs: 300_000,
  keepFinishedMs: 0,
} as const;

const KNOWN = optionKeys<SendWorkerOptions>({
  gateway: true,
  connection: true,
  queueName: true,
  prefix: true,
  batchSize: true,
  lingerMs: true,
  concurrency: true,
  rate: true,
  rateWindowMs: true,
  throttleMs: true,
  throttleMaxMs: true,
  lockDuration: true,
  stalledInterval: true,
  maxStalledCount: true,
  shutdownTimeoutMs: true,
  releaseAhead: true,
  dispatchIntervalMs: true,
  track: true,
  trackAfterMs: true,
  trackMaxIntervalMs: true,
  trackForMs: true,
  readWindowMs: true,
  trackBatchSize: true,
  trackRate: true,
  fallbackCodes: true,
  fallbackOnUnknown: true,
  balanceIntervalMs: true,
  lowBalance: true,
  keepFinishedMs: true,
  webhook: true,
  logger: true,
});

export function resolveWorkerOptions(opts: SendWorkerOptions): ResolvedWorkerOptions {
  if (!opts || typeof opts.gateway !== 'object') {
    throw new InvalidOptionError('gateway options are required: { gateway: { apiKey, url } }');
  }
  checkKnownKeys('worker', opts, KNOWN);
  checkGatewayKeys(opts.gateway);
  const o = { ...WORKER_DEFAULTS, ...stripUndefined(opts) };
  const r: ResolvedWorkerOptions = {
    gateway: opts.gateway,
    connection: o.connection,
    queueName: assertQueueName(o.queueName),
    prefix: queuePrefix(o.connection, assertQueueName(o.queueName), opts.prefix),
    batchSize: intInRange('batchSize', o.batchSize, 1, 1000),
    lingerMs: intInRange('lingerMs', o.lingerMs, 0, 60_000),
    concurrency: intInRange('concurrency', o.concurrency, 1, 256),
    rate: intInRange('rate', o.rate, 0, 1_000_000),
    rateWindowMs: intInRange('rateWindowMs', o.rateWindowMs, 100, 60_000),
    throttleMs: intInRange('throttleMs', o.throttleMs, 1, 3_600_000),
    throttleMaxMs: intInRange('throttleMaxMs', o.throttleMaxMs, 1, 3_600_000),
    lockDuration: intInRange('lockDuration', o.lockDuration, 1000, 3_600_000),
    stalledInterval: intInRange('stalledInterval', o.stalledInterval, 100, 3_600_000),
    maxStalledCount: intInRange('maxStalledCount', o.maxStalledCount, 0, 1_000_000),
    shutdownTimeoutMs: intInRange('shutdownTimeoutMs', o.shutdownTimeoutMs, 0, 3_600_000),
    releaseAhead: intInRange(
      'releaseAhead',
      opts.releaseAhead ??
        (o.rate > 0 ? Math.max(2 * Math.min(o.batchSize, o.rate), o.rate) : 5000),
      1,
      1_000_000,
    ),
    dispatchIntervalMs: intInRange('dispatchIntervalMs', o.dispatchIntervalMs, 10, 60_000),
    track: o.track !== false,
    trackAfterMs: intInRange('trackAfterMs', o.trackAfterMs, 1, 86_400_000),
    trackMaxIntervalMs: intInRange('trackMaxIntervalMs', o.trackMaxIntervalMs, 1, 86_400_000),
    trackForMs: intInRange('trackForMs', o.trackForMs, 1, 30 * 86_400_000),
    readWindowMs: intInRange('readWindowMs', o.readWindowMs, 0, 30 * 86_400_000),
    trackBatchSize: intInRange('trackBatchSize', o.trackBatchSize, 1, 10_000),
    trackRate: intInRange('trackRate', o.trackRate, 1, 10_000),
    fallbackCodes: fallbackCodesOf(o.fallbackCodes),
    fallbackOnUnknown: o.fallbackOnUnknown === true,
    balanceIntervalMs: intInRange('balanceIntervalMs', o.balanceIntervalMs, 0, 86_400_000),
    lowBalance: opts.lowBalance,
    keepFinishedMs: intInRange('keepFinishedMs', o.keepFinishedMs, 0, 3650 * 86_400_000),
    webhook: opts.webhook === undefined ? undefined : resolveWebhookOptions(opts.webhook),
    logger: opts.logger,
  };
  const timeoutMs = opts.gateway.timeoutMs ?? 15_000;
  if (timeoutMs >= r.lockDuration) {
    // Locks are renewed, but a request longer than the lock means a frozen event loop can lose it.
    throw new InvalidOptionError(
      `gateway.timeoutMs (${timeoutMs}) must be less than lockDuration (${r.lockDuration}): raise lockDuration or lower the timeout`,
    );
  }
  return r;
}

/** Codes that may send a fallback: the final ones a message ends undelivered with. */
function fallbackCodesOf(codes: unknown): readonly number[] {
  const allowed = [...FINAL_CODES].filter((c) => c !== DELIVERED).sort((a, b) => a - b);
  if (!Array.isArray(codes) || codes.some((c) => !allowed.includes(c as number))) {
    throw new InvalidOptionError(
      `fallbackCodes must be a list of final undelivered codes, each one of ${allowed.join(', ')} (got ${JSON.stringify(codes)})`,
    );
  }
  return [...new Set(codes as number[])];
}

/** A worker's options as it shows them: the gateway's without the API key, no webhook secret. */
export type WorkerOptionsView = Omit<ResolvedWorkerOptions, 'gateway' | 'webhook'> & {
  gateway: GatewayClient['options'];
  webhook: WebhookOptionsView | undefined;
};

export function workerView(o: ResolvedWorkerOptions, gateway: GatewayClient): WorkerOptionsView {
  return {
    ...o,
    gateway: gateway.options,
    webhook: o.webhook === undefined ? undefined : webhookView(o.webhook),
  };
}
