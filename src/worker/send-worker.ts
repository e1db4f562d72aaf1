/**
 * The send worker: a BullMQ Worker whose jobs are packages (src/worker/process.ts), at most
 * `concurrency` sent at once, and the dispatcher that makes them. BullMQ does what it is good at:
 * the package's lock and its renewal, stalled-job recovery, attempts and backoff, events.
 *
 * Lifecycle:
 *   running  --account problem-->  halted   (fetches nothing more; held jobs go back to the queue;
 *                                            the `halted` event says why)
 *   running  --Redis OOM-->        waiting  (fetch, dispatch, tracking paused; memory-guard.ts
 *                                            probes with a write, and running resumes when one passes)
 *   running|halted --close()-->    draining (no new packages; packages in flight finish)
 *   draining --shutdownTimeoutMs--> aborting (requests and rate-limit waits are aborted, their
 *                                            packages handed back to the queue, untouched)
 *   draining|aborting --> closed    (BullMQ worker closed, HTTP pool closed, our Redis quit)
 *
 * Beside it run the delivery tracker (src/tracking, unless `track: false`: `<status>` until each
 * accepted message's code is final) and, with `webhook`, the webhook sender (src/webhook).
 */
import { EventEmitter } from 'node:events';
import { MetricsTime, Queue, WaitingError, Worker } from 'bullmq';
import { pino, type Logger } from 'pino';
import { purgeAndLog } from '../campaign/purge.js';
import { SharedCache } from '../campaign/shared.js';
import { CampaignStore } from '../campaign/store.js';
import { Dispatcher } from '../dispatch/dispatcher.js';
import { GatewayClient } from '../gateway/client.js';
import {
  KEEP_COMPLETED_JOBS,
  KEEP_FAILED_JOBS,
  type PackageJobData,
  type PackageJobResult,
} from '../job.js';
import {
  closeRedis,
  openRedis,
  warnIfEvicting,
  type OwnedRedis,
  type RedisClient,
} from '../redis.js';
import type { Tracker, DeliveryReport } from '../tracking/tracker.js';
import { trackerFor } from './tracking.js';
import type { Balance } from '../xml/parse.js';
import type { BatchContext, BatchReport } from './pending.js';
import { processPackage, type PackageJob } from './process.js';
import { awaitBullWorkerClosed, dropIfUnreachable } from './bullmq-close.js';
import { WebhookSender, type WebhookReport } from '../webhook/sender.js';
import {
  resolveWorkerOptions,
  workerView,
  type ResolvedWorkerOptions,
  type WorkerOptionsView,
  type SendWorkerOptions,
} from './options.js';
import { RateLimiter } from '../gateway/rate-limiter.js';
import { MemoryGuard } from '../memory-guard.js';
import type { HaltReason } from './outcome.js';

export type { HaltReason };

export interface SendWorkerEvents {
  batch: [BatchReport];
  /** One `<status>` round of delivery tracking. */
  delivery: [DeliveryReport];
  /** The account's balance, each time it is asked (every `balanceIntervalMs`). */
  balance: [Balance];
  /** The balance fell under `lowBalance`. */
  lowBalance: [Balance];
  halted: [HaltReason];
  /** One webhook request and what it came to. */
  webhook: [WebhookReport];
  error: [Error];
}

/** Creates a worker and starts it. Options are checked before anything connects. */
export async function createWorker(opts: SendWorkerOptions): Promise<SendWorker> {
  const options = resolveWorkerOptions(opts);
  const gateway = new GatewayClient(options.gateway);
  let redis: OwnedRedis;
  try {
    redis = await openRedis(options.connection, 'worker');
  } catch (err) {
    await gateway.close();
    throw err;
  }
  const worker = new SendWorker(options, gateway, redis);
  await worker.checkRedis();
  worker.dispatcher.start();
  worker.tracker?.start();
  await worker.webhooks?.start();
  worker.watchBalance();
  worker.keepFinished();
  return worker;
}

export class SendWorker extends EventEmitter<SendWorkerEvents> {
  /** Its resolved options; the API key is not among them (the gateway client alone holds it). */
  readonly options: WorkerOptionsView;
  readonly gateway: GatewayClient;
  /** Why the worker stopped taking work, if it did. */
  halted: HaltReason | undefined;
  private readonly worker: Worker<PackageJobData, PackageJobResult>;
  private readonly queue: Queue<PackageJobData>;
  private readonly abort = new AbortController();
  private readonly log: Logger;
  private readonly store: CampaignStore;
  private readonly shared: SharedCache;
  private readonly limiter: RateLimiter;
  /** Delivery tracking; undefined with `track: false`. */
  readonly tracker: Tracker | undefined;
  /** Webhook delivery, on a Redis connection of its own; undefined without `webhook`. */
  readonly webhooks: WebhookSender | undefined;
  /** Releases backlogs into the queue (priority, fair share, timing). */
  readonly dispatcher: Dispatcher;
  /** The account's balance as last asked, if it was. */
  balance: Balance | undefined;
  private balanceTimer: NodeJS.Timeout | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  /** Redis out of memory: pauses fetching, dispatch and tracking until a write succeeds. */
  private readonly memory: MemoryGuard;
  private throttleStreak = 0;
  private closing: Promise<void> | undefined;

  /** Use createWorker(). */
  constructor(
    options: ResolvedWorkerOptions,
    gateway: GatewayClient,
    private readonly redis: OwnedRedis,
  ) {
    super();
    this.options = workerView(options, gateway);
    this.gateway = gateway;
    this.log = options.logger ?? pino({ level: 'silent' });
    const batchSize =
      options.rate > 0 ? Math.min(options.batchSize, options.rate) : options.batchSize;
    this.store = new CampaignStore(redis.client, `${options.prefix}:${options.queueName}:`);
    this.shared = new SharedCache(redis.client, this.store.keys.base);
    this.limiter = new RateLimiter(
      redis.client,
      this.store.keys.sendPace,
      options.rate,
      options.rateWindowMs,
    );
    this.queue = new Queue<PackageJobData>(options.queueName, {
      connection: redis.client,
      prefix: options.prefix,
    });
    this.queue.on('error', () => {}); // the dispatcher logs what fails
    // Redis out of memory: each loop below waits for a probe write, logged once, not per refusal.
    this.memory = new MemoryGuard(
      () => redis.client.set(this.store.keys.memoryProbe, '1', 'PX', 1000),
      this.log,
    );
    this.memory.on('full', () => void this.worker.pause(true).catch(() => undefined));
    this.memory.on('free', () => {
      if (!this.halted && !this.closing) this.worker.resume().catch(() => undefined);
    });
    this.dispatcher = new Dispatcher(
      redis.client,
      this.store,
      this.queue,
      {
        ahead: options.releaseAhead,
        intervalMs: options.dispatchIntervalMs,
        packageSize: batchSize,
        sweep: 2000,
        lingerMs: options.lingerMs,
        reapAfterMs: 30_000,
      },
      this.log,
      this.memory,
    );
    if (options.track) {
      this.tracker = trackerFor(redis.client, this.store.keys, options, gateway, this.limiter, {
        logger: this.log,
        onThrottle: () => this.throttle(),
        onAnswered: () => (this.throttleStreak = 0),
        memory: this.memory,
        shared: this.shared,
        onReport: (r) => {
          this.log.debug(r, 'delivery checked');
          this.emit('delivery', r);
        },
      });
    }
    const hooks = { logger: this.log, onReport: (r: WebhookReport) => this.emit('webhook', r) };
    if (options.webhook) {
      const own = redis.client.duplicate(); // a slow endpoint never queues behind our commands
      this.webhooks = new WebhookSender(own, this.store.keys, options.webhook, hooks);
    }
    this.worker = new Worker<PackageJobData, PackageJobResult>(
      options.queueName,
      (job, token) => this.process(job, token),
      {
        connection: redis.client,
        prefix: options.prefix,
        concurrency: options.concurrency,
        lockDuration: options.lockDuration,
        stalledInterval: options.stalledInterval,
        maxStalledCount: options.maxStalledCount,
        // Each message's finished record (vb:done, written as it ends) is what results read; the
        // newest package jobs stay for bull-board.
        removeOnComplete: { count: KEEP_COMPLETED_JOBS },
        // BullMQ's per-minute counts, for bullmq_job_completed/failed_total: a day of them.
        metrics: { maxDataPoints: MetricsTime.ONE_HOUR * 24 },
        removeOnFail: { count: KEEP_FAILED_JOBS },
        autorun: true,
      },
    );
    this.worker.on('error', (err) => {
      if (this.memory.saw(err)) return;
      this.log.warn({ err: err.message }, 'queue error');
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
  }

  /** The worker's (non-blocking) Redis connection, for tools that share it (metrics). */
  get redisClient(): RedisClient {
    return this.redis.client;
  }

  /**
   * Warns when Redis may evict keys (warnIfEvicting), and when it sends without a rate limit: a
   * choice to make on purpose (the gateway documents no rate, and answers 212 past its own).
   */
  async checkRedis(): Promise<void> {
    await warnIfEvicting(this.redis.client, this.log);
    if (this.options.rate === 0) {
      this.log.warn(
        'sending without a rate limit: set rate (CLI --rate N) to the messages a second your AlphaSMS account allows',
      );
    }
  }

  /** Asks the balance every `balanceIntervalMs` (first after one interval); warns when low. */
  watchBalance(): void {
    const every = this.options.balanceIntervalMs;
    if (every === 0 || this.balanceTimer) return;
    this.balanceTimer = setInterval(() => void this.checkBalance(), every);
    this.balanceTimer.unref();
  }

  /** With `keepFinishedMs`: purges campaigns finished longer ago than that, now and then. */
  keepFinished(): void {
    const keep = this.options.keepFinishedMs;
    if (keep === 0 || this.retentionTimer) return;
    const every = Math.min(Math.max(keep, 1000), 600_000);
    this.retentionTimer = setInterval(() => void this.purgeFinished(), every);
    this.retentionTimer.unref();
  }

  /** Purges what `keepFinishedMs` says may go; logs what it removed. */
  async purgeFinished(): Promise<void> {
    await purgeAndLog(this.store, this.redis.client, this.options, this.log);
  }

  /** Asks the gateway for the balance now; records it, and warns if it is under `lowBalance`. */
  async checkBalance(): Promise<Balance | undefined> {
    try {
      const b = await this.gateway.balance({ signal: this.abort.signal });
      this.balance = b;
      this.emit('balance', b);
      const low = this.options.lowBalance;
      if (low !== undefined && b.amount < low) {
        this.log.warn({ amount: b.amount, currency: b.currency, lowBalance: low }, 'low balance');
        this.emit('lowBalance', b);
      }
      return b;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not read the account balance');
      return undefined;
    }
  }

  /** Resolves once the worker is connected and fetching. */
  async waitUntilReady(): Promise<void> {
    await this.worker.waitUntilReady();
  }

  private async process(job: PackageJob, token: string | undefined): Promise<PackageJobResult> {
    if (this.halted) {
      // Fetched after the worker halted (BullMQ's pause stops the fetch loop, but a fetch may
      // be under way): straight back to the queue, untouched and uncounted.
      await job.moveToWait(token).catch(() => undefined);
      throw new WaitingError();
    }
    const run = processPackage(job, token, this.context(), (report) => {
      this.log.info(report, 'batch sent');
      this.emit('batch', report);
    });
    const tracked = run.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
    return run;
  }

  private context(): BatchContext {
    return {
      gateway: this.gateway,
      shared: this.shared,
      store: this.store,
      limiter: this.limiter,
      logger: this.log,
      signal: this.halted ? AbortSignal.abort(new Error('worker halted')) : this.abort.signal,
      onThrottle: () => this.throttle(),
      onAccepted: () => (this.throttleStreak = 0),
      onHalt: (h) => this.halt(h),
      tracking: this.tracker?.span,
    };
  }

  /** 212: pause every worker on the queue, longer each time in a row. */
  private async throttle(): Promise<void> {
    const { throttleMs, throttleMaxMs } = this.options;
    const ms = Math.min(throttleMs * 2 ** Math.min(this.throttleStreak, 30), throttleMaxMs);
    this.throttleStreak++;
    this.log.warn({ pauseMs: ms }, 'gateway throttled us (212); pausing every worker');
    await this.limiter.pause(ms);
  }

  private halt(reason: HaltReason): void {
    if (this.halted) return;
    this.halted = reason;
    this.log.error(
      { code: reason.code, status: reason.name, haltLevel: reason.level },
      'the gateway account cannot send; this worker stops taking work, messages stay queued',
    );
    void this.worker.pause(true).catch(() => undefined);
    // A halted worker releases nothing more: what it released would wait for other workers.
    void this.dispatcher.close();
    this.emit('halted', reason);
  }

  /**
   * Closing: what lingers for a fuller package is packaged now and sent before BullMQ's worker
   * closes (by this worker or another), unless the shutdown deadline comes first.
   */
  private async sendLingering(): Promise<void> {
    const made = await this.dispatcher.flush();
    const signal = this.abort.signal;
    while (!signal.aborted && (await this.store.packages.existing(made)) > 0) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Aborts requests and rate-limit waits in flight now; their packages go back to the queue. */
  abortInFlight(): void {
    this.abort.abort(new Error('shutdown forced'));
  }

  /**
   * Stops taking jobs, sends what is held, waits for batches in flight (at most
   * shutdownTimeoutMs, then hands them back), and closes. Idempotent; a connection you passed in
   * stays open.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const timer = setTimeout(() => {
        this.abort.abort(new Error('shutdown timeout'));
        dropIfUnreachable(this.redis, this.log);
      }, this.options.shutdownTimeoutMs);
      const errors: unknown[] = [];
      const step = async (fn: () => Promise<unknown>, name = ''): Promise<void> => {
        this.log.debug({ step: name }, 'closing');
        try {
          await fn();
        } catch (err) {
          errors.push(err);
        }
      };
      // Reverse order of acquisition; each step runs even if an earlier one failed.
      clearInterval(this.balanceTimer);
      clearInterval(this.retentionTimer);
      this.memory.close();
      await step(async () => this.tracker?.close(), 'tracker');
      await step(async () => this.webhooks?.close(), 'webhooks');
      await step(() => this.dispatcher.close(), 'dispatcher');
      if (!this.halted) await step(() => this.sendLingering(), 'linger');
      const closingWorker = this.worker.close();
      await step(
        () => awaitBullWorkerClosed(this.worker, closingWorker, this.inFlight, this.log),
        'bullmq',
      );
      await step(() => Promise.all(this.inFlight), 'inflight');
      clearTimeout(timer);
      await step(() => this.queue.close(), 'queue');
      await step(() => this.gateway.close(), 'gateway');
      if (this.redis.owned) await step(() => closeRedis(this.redis.client), 'redis');
      if (errors.length > 0) this.log.warn({ errors: errors.map(String) }, 'errors while closing');
    })();
    return this.closing;
  }
}
