import { DEFAULT_FALLBACK_CODES } from '../../fallback.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidArgumentError, type Command } from 'commander';
import type { Logger } from 'pino';
import type { WorkerMetrics } from '../../worker/metrics.js';
import type { SendWorker } from '../../worker/send-worker.js';
import { takeEarlySignals } from '../early-signals.js';
import { InvalidOptionError } from '../../errors.js';
import type { WebhookOptions } from '../../webhook/options.js';
import { readEnv, requireApiKey, type CliEnv } from '../env.js';
import { EXIT, intArg, parseDuration } from '../util.js';

interface WorkerFlags {
  rate: number;
  batchSize: number;
  lingerMs: number;
  timeoutMs: number;
  maxAnswerBytes: number;
  concurrency: number;
  shutdownTimeoutMs: number;
  metricsPort?: number;
  metricsHost: string;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  track: boolean;
  trackAfterMs: number;
  trackMaxIntervalMs: number;
  trackForMs: number;
  readWindowMs: number;
  trackBatchSize: number;
  trackRate: number;
  smsFallbackCodes: number[];
  smsFallbackOnUnknown?: boolean;
  lowBalance?: number;
  keepFinished?: string;
  releaseAhead?: number;
  webhookUrl?: string;
  webhookSecret?: string;
  webhookRetryFor: string;
  webhookBatchSize: number;
  webhookTimeoutMs: number;
  webhookOutboxLimit: number;
}

/** The worker's webhook options from its flags and environment; none without a URL. */
function webhookOf(flags: WorkerFlags, env: CliEnv): WebhookOptions | undefined {
  const url = flags.webhookUrl ?? env.webhookUrl;
  const secret = flags.webhookSecret ?? env.webhookSecret;
  if (url === undefined) {
    if (secret !== undefined) {
      throw new InvalidOptionError('a webhook secret without --webhook-url (or WEBHOOK_URL)');
    }
    return undefined;
  }
  if (secret === undefined) {
    throw new InvalidOptionError(
      '--webhook-url needs a signing secret: WEBHOOK_SECRET (or --webhook-secret, which ps shows)',
    );
  }
  return {
    url,
    secret,
    retryForMs: parseDuration(flags.webhookRetryFor, '--webhook-retry-for'),
    batchSize: flags.webhookBatchSize,
    timeoutMs: flags.webhookTimeoutMs,
    outboxLimit: flags.webhookOutboxLimit,
  };
}

export function workerCommand(program: Command): void {
  program
    .command('worker')
    .description(
      'send queued messages until SIGTERM/SIGINT (a second signal hands back what is in flight)',
    )
    .option(
      '--rate <n>',
      'messages/s for the whole queue, shared by all workers (0: no limit)',
      intArg(0, 1_000_000),
      0,
    )
    .option('--batch-size <n>', 'messages per XML package', intArg(1, 1000), 50)
    .option('--linger-ms <n>', 'longest wait for a batch to fill', intArg(0, 60_000), 50)
    .option(
      '--timeout-ms <n>',
      'time for one whole gateway exchange (connect, headers, body), then retried',
      intArg(1, 600_000),
      15_000,
    )
    .option(
      '--max-answer-bytes <n>',
      'largest gateway answer read; a larger one is abandoned and retried',
      intArg(1024, 1024 * 1024 * 1024),
      4 * 1024 * 1024,
    )
    .option('--concurrency <n>', 'batches in flight at once', intArg(1, 256), 4)
    .option(
      '--shutdown-timeout-ms <n>',
      'on SIGTERM, how long batches in flight may finish',
      intArg(0, 3_600_000),
      20_000,
    )
    .option(
      '--metrics-port <n>',
      'serve Prometheus metrics at http://<metrics-host>:N/metrics',
      intArg(0, 65535),
    )
    .option('--metrics-host <host>', 'address the metrics listener binds', '127.0.0.1')
    .option(
      '--lock-duration-ms <n>',
      'job lock; jobs of a dead worker come back after it (default: max(30000, 2 × timeout + 5000))',
      intArg(1000, 3_600_000),
    )
    .option(
      '--stalled-interval-ms <n>',
      'how often to look for jobs of dead workers',
      intArg(100, 3_600_000),
      15_000,
    )
    .option('--no-track', 'do not follow accepted messages with <status> (delivery tracking)')
    .option(
      '--track-after-ms <n>',
      'first <status> this long after acceptance',
      intArg(1, 86_400_000),
      60_000,
    )
    .option(
      '--track-max-interval-ms <n>',
      'longest interval between two questions about a message on its way (they double until then)',
      intArg(1, 86_400_000),
      1_800_000,
    )
    .option(
      '--track-for-ms <n>',
      'give up on a message not final after this (recorded unknown)',
      intArg(1, 30 * 86_400_000),
      72 * 3_600_000,
    )
    .option(
      '--read-window-ms <n>',
      'watch a delivered message for 116 READ this long, asked at 4x its age each time (0: not at all)',
      intArg(0, 30 * 86_400_000),
      24 * 3_600_000,
    )
    .option('--track-batch-size <n>', 'message ids per <status> request', intArg(1, 10_000), 200)
    .option(
      '--track-rate <n>',
      '<status> requests/s for the whole queue, shared by all workers',
      intArg(1, 10_000),
      5,
    )
    .option(
      '--sms-fallback-codes <codes>',
      'final Viber codes that send a message\'s SMS fallback, comma-separated ("" for none)',
      (v: string) =>
        v.trim() === ''
          ? []
          : v.split(',').map((c) => {
              if (!/^\s*\d{1,4}\s*$/.test(c)) throw new InvalidArgumentError(`not a code: ${c}`);
              return Number(c);
            }),
      [...DEFAULT_FALLBACK_CODES],
    )
    .option(
      '--sms-fallback-on-unknown',
      'also send the SMS fallback when tracking gives up (unknown): the Viber message may still arrive',
    )
    .option(
      '--low-balance <amount>',
      'log a warning when the account balance falls under this (checked every 5 minutes)',
      (v: string) => {
        const n = Number(v);
        if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number ≥ 0');
        return n;
      },
    )
    .option(
      '--release-ahead <n>',
      'messages released to the queue ahead of the workers (default: one second at --rate; 5000 unlimited)',
      intArg(1, 1_000_000),
    )
    .option(
      '--keep-finished <duration>',
      'purge campaigns finished (and no longer tracked) longer ago than this: 30d, 12h…',
    )
    .option('--webhook-url <url>', 'POST signed outcome events here (env WEBHOOK_URL)')
    .option(
      '--webhook-secret <secret>',
      'signing secret, whsec_<base64> or any text (env WEBHOOK_SECRET: ps does not show it)',
    )
    .option('--webhook-retry-for <duration>', 'retry a failing event this long: 24h, 90m…', '24h')
    .option('--webhook-batch-size <n>', 'most events per webhook request', intArg(1, 1000), 100)
    .option(
      '--webhook-timeout-ms <n>',
      'deadline of one whole webhook request',
      intArg(100, 600_000),
      10_000,
    )
    .option(
      '--webhook-outbox-limit <n>',
      'most events the outbox holds; past it new events are dropped and counted',
      intArg(1, 100_000_000),
      1_000_000,
    )
    .action(async (flags: WorkerFlags) => {
      const env = readEnv();
      const apiKey = requireApiKey(env);
      const webhook = webhookOf(flags, env);
      // Signals are ours from here on, before anything connects: a SIGTERM while the worker
      // starts (a supervisor stopping a fleet it just restarted) is a clean stop, exit 0, not a
      // death by signal. BullMQ may fetch jobs before it reports ready, so the worker is created
      // and closed properly even then.
      let signals = 0;
      const started: { worker?: SendWorker; logger?: Logger } = {};
      let requestStop: (reason: string) => void = () => {};
      const stopRequested = new Promise<string>((resolve) => (requestStop = resolve));
      const onSignal = (sig: string) => {
        signals++;
        if (signals === 1) requestStop(sig);
        else if (signals === 2) {
          started.logger?.warn('second signal: handing back batches in flight');
          started.worker?.abortInFlight();
        } else {
          started.logger?.error('third signal: exiting now');
          process.exit(EXIT.failed);
        }
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
      for (const sig of takeEarlySignals()) onSignal(sig);
      // Loaded here, not at start-up: other commands need neither undici nor pino.
      const [{ createWorker }, { createLogger }] = await Promise.all([
        import('../../worker/send-worker.js'),
        import('../log.js'),
      ]);
      const logger = (started.logger = createLogger(env.logLevel));
      const created = createWorker({
        connection: env.redisUrl,
        queueName: env.queueName,
        gateway: {
          url: env.gatewayUrl,
          apiKey,
          timeoutMs: flags.timeoutMs,
          maxAnswerBytes: flags.maxAnswerBytes,
        },
        rate: flags.rate,
        batchSize: flags.batchSize,
        lingerMs: flags.lingerMs,
        concurrency: flags.concurrency,
        shutdownTimeoutMs: flags.shutdownTimeoutMs,
        // Requests must end well inside the job lock.
        lockDuration: flags.lockDurationMs ?? Math.max(30_000, flags.timeoutMs * 2 + 5000),
        stalledInterval: flags.stalledIntervalMs,
        track: flags.track,
        trackAfterMs: flags.trackAfterMs,
        trackMaxIntervalMs: flags.trackMaxIntervalMs,
        trackForMs: flags.trackForMs,
        readWindowMs: flags.readWindowMs,
        trackBatchSize: flags.trackBatchSize,
        trackRate: flags.trackRate,
        fallbackCodes: flags.smsFallbackCodes,
        fallbackOnUnknown: flags.smsFallbackOnUnknown === true,
        lowBalance: flags.lowBalance,
        releaseAhead: flags.releaseAhead,
        keepFinishedMs:
          flags.keepFinished === undefined
            ? 0
            : parseDuration(flags.keepFinished, '--keep-finished'),
        webhook,
        logger,
      });
      const first = await Promise.race([created, stopRequested]);
      if (typeof first === 'string') {
        // Stopped while starting. A start-up that completes within the drain deadline is closed
        // properly (BullMQ may have fetched jobs already); one stuck on a Redis that does not
        // answer is abandoned: it holds nothing.
        const late = await Promise.race([
          created.catch(() => undefined),
          sleep(flags.shutdownTimeoutMs).then(() => undefined),
        ]);
        await late?.close();
        logger.info({ reason: first }, 'worker stopped while starting');
        logger.flush();
        process.exit(EXIT.ok);
      }
      const worker = (started.worker = first);
      worker.once('halted', (h) => requestStop(`halted: ${h.code} ${h.name}`));
      // A worker already taking jobs that cannot finish starting: closed properly and exit 1,
      // never left running under a command that has ended (where no signal would stop it).
      const failedStart = async (fields: object, msg: string): Promise<never> => {
        logger.error(fields, msg);
        await worker.close();
        logger.flush();
        process.exit(EXIT.failed);
      };
      // BullMQ may still be connecting (a Redis restarting, loading its AOF): a stop meanwhile
      // is taken at once, not after it is ready. If it fails to start ("Connection is closed."
      // when Redis restarts just then), its jobs would not complete: it stops, and exits 1 for
      // its supervisor to restart it.
      const stopFirst = await Promise.race([
        worker.waitUntilReady().then(
          () => false,
          (err: Error) => failedStart({ err: err.message }, 'BullMQ could not start; stopping'),
        ),
        stopRequested.then(() => true),
      ]);
      let metrics: WorkerMetrics | undefined;
      if (!stopFirst && flags.metricsPort !== undefined) {
        const { WorkerMetrics } = await import('../../worker/metrics.js'); // prom-client on demand
        metrics = new WorkerMetrics(worker);
        try {
          const port = await metrics.listen(flags.metricsPort, flags.metricsHost);
          const at = flags.metricsHost.includes(':') ? `[${flags.metricsHost}]` : flags.metricsHost;
          logger.info({ port }, `metrics at http://${at}:${port}/metrics`);
        } catch (err) {
          await metrics.close().catch(() => undefined);
          await failedStart(
            { err: (err as Error).message, port: flags.metricsPort },
            'cannot serve metrics; stopping',
          );
        }
      }
      if (!stopFirst) {
        logger.info(
          { queue: env.queueName, gateway: new URL(env.gatewayUrl).origin, ...flags },
          'worker started',
        );
      }
      const stop = await stopRequested;
      logger.info({ reason: stop }, 'worker stopping: no new jobs, finishing batches in flight');
      await worker.close();
      await metrics?.close();
      logger.info('worker closed');
      logger.flush();
      // Exit now rather than when the event loop empties: if BullMQ could not finish its own
      // close (it says so in a warning), its timers would keep a closed worker alive.
      process.exit(worker.halted ? EXIT.halted : EXIT.ok);
    });
}
