/**
 * Prometheus metrics of a worker process (prom-client), fed by the worker's `batch` reports and
 * the gateway client's per-request observations, plus BullMQ's own queue metrics and the queue's
 * job counts read at scrape time, and the webhook sender's (webhook-metrics.ts). Served by
 * `viber-bulk worker --metrics-port N` at /metrics.
 * Labels carry outcomes and status codes only: never message content, and never the key.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { QueueKeys } from '../keys.js';
import { MESSAGE_CODES } from '../xml/codes.js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BatchReport } from './pending.js';
import type { SendWorker } from './send-worker.js';
import { registerWebhookMetrics } from './webhook-metrics.js';

const OUTCOMES = [
  'completed',
  'recovered',
  'failed',
  'retried',
  'requeued',
  'parked',
  'cancelled',
  'expired',
  'suppressed',
] as const;

const DELIVERY_ENDS = ['delivered', 'read', 'undelivered', 'unknown'] as const;
/** An SMS is never read. */
const SMS_ENDS = ['delivered', 'undelivered', 'unknown'] as const;

export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly messages: Counter<'outcome'>;
  private readonly codes: Counter<'code'>;
  private readonly batchSize: Histogram;
  private readonly latency: Histogram<'kind' | 'result'>;
  private readonly throttles: Counter;
  private readonly retries: Counter;
  private readonly halted: Gauge;
  private readonly deliveries: Counter<'status'>;
  private readonly sms: Counter<'outcome'>;
  private readonly queue: Queue;
  private server: Server | undefined;

  constructor(private readonly worker: SendWorker) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'viber_bulk_' });
    this.messages = new Counter({
      name: 'viber_bulk_messages_total',
      help: 'Messages by what the worker did with them',
      labelNames: ['outcome'],
      registers: [r],
    });
    this.codes = new Counter({
      name: 'viber_bulk_gateway_codes_total',
      help: "Per-message status codes in gateway answers (the documented ones; 'other' for the rest)",
      labelNames: ['code'],
      registers: [r],
    });
    this.batchSize = new Histogram({
      name: 'viber_bulk_batch_size',
      help: 'Messages per batch',
      buckets: [1, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers: [r],
    });
    this.latency = new Histogram({
      name: 'viber_bulk_gateway_request_seconds',
      help: 'Gateway HTTP exchanges: duration by kind (send/status/balance) and result (ok or error code)',
      labelNames: ['kind', 'result'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [r],
    });
    this.throttles = new Counter({
      name: 'viber_bulk_throttled_total',
      help: 'Packages the gateway throttled (212), each followed by a pause of every worker',
      registers: [r],
    });
    this.retries = new Counter({
      name: 'viber_bulk_gateway_retries_total',
      help: 'Gateway requests repeated after a transient failure (p-retry)',
      registers: [r],
    });
    this.halted = new Gauge({
      name: 'viber_bulk_worker_halted',
      help: '1 when this worker stopped taking work because the gateway account cannot send',
      labelNames: ['code'],
      registers: [r],
    });
    const { queueName, prefix } = worker.options;
    this.queue = new Queue(queueName, { connection: worker.redisClient, prefix });
    const queue = this.queue;
    new Gauge({
      name: 'viber_bulk_queue_jobs',
      help: 'Jobs on the queue by BullMQ state (read at scrape time)',
      labelNames: ['state'],
      registers: [r],
      async collect() {
        const counts = await queue.getJobCounts(
          'wait',
          'active',
          'delayed',
          'completed',
          'failed',
          'prioritized',
        );
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
    const redis = worker.redisClient;
    const queuedHash = new QueueKeys(queue.toKey('')).queued;
    new Gauge({
      name: 'viber_bulk_queued_messages',
      help: 'Messages enqueued and not ended yet: queued, released or being retried (read at scrape time)',
      registers: [r],
      async collect() {
        this.set(await redis.hlen(queuedHash));
      },
    });
    this.deliveries = new Counter({
      name: 'viber_bulk_delivery_total',
      help: 'Tracked messages whose delivery ended, by how (delivered, read, undelivered, unknown)',
      labelNames: ['status'],
      registers: [r],
    });
    for (const s of DELIVERY_ENDS) this.deliveries.inc({ status: s }, 0);
    const tracker = worker.tracker;
    new Gauge({
      name: 'viber_bulk_tracking_messages',
      help: 'Messages of the queue whose delivery is being tracked (read at scrape time)',
      registers: [r],
      async collect() {
        this.set(tracker ? await redis.zcard(tracker.trackKey) : 0);
      },
    });
    new Gauge({
      name: 'viber_bulk_balance',
      help: 'The gateway account balance as last asked (see balanceIntervalMs)',
      labelNames: ['currency'],
      registers: [r],
      collect() {
        const b = worker.balance;
        if (b) this.set({ currency: b.currency }, b.amount);
      },
    });
    // SMS fallbacks (src/fallback.ts): made, sent, delivered — a subset of the series above.
    this.sms = new Counter({
      name: 'viber_bulk_sms_messages_total',
      help: 'SMS fallbacks by what the worker did with them (also counted in viber_bulk_messages_total)',
      labelNames: ['outcome'],
      registers: [r],
    });
    const fallbacks = new Counter({
      name: 'viber_bulk_sms_fallbacks_total',
      help: 'SMS fallbacks made: Viber messages that ended undelivered and carried one',
      registers: [r],
    });
    const smsDeliveries = new Counter({
      name: 'viber_bulk_sms_delivery_total',
      help: 'SMS fallbacks whose delivery ended, by how (also counted in viber_bulk_delivery_total)',
      labelNames: ['status'],
      registers: [r],
    });
    for (const s of SMS_ENDS) smsDeliveries.inc({ status: s }, 0);
    worker.on('delivery', (d) => {
      for (const s of DELIVERY_ENDS) if (d[s] > 0) this.deliveries.inc({ status: s }, d[s]);
      for (const s of SMS_ENDS) if (d.sms[s] > 0) smsDeliveries.inc({ status: s }, d.sms[s]);
      fallbacks.inc(d.fallbacks);
    });
    for (const o of OUTCOMES) this.messages.inc({ outcome: o }, 0);
    for (const o of OUTCOMES) this.sms.inc({ outcome: o }, 0);
    worker.on('batch', (b) => this.onBatch(b));
    worker.on('halted', (h) => this.halted.set({ code: String(h.code) }, 1));
    worker.gateway.onRequest = (o) => {
      this.latency.observe({ kind: o.kind, result: o.result }, o.durationMs / 1000);
    };
    worker.gateway.onRetry = () => this.retries.inc();
    registerWebhookMetrics(r, worker);
  }

  private onBatch(b: BatchReport): void {
    this.batchSize.observe(b.size);
    for (const o of OUTCOMES) if (b[o] > 0) this.messages.inc({ outcome: o }, b[o]);
    if (b.sms) for (const o of OUTCOMES) if (b[o] > 0) this.sms.inc({ outcome: o }, b[o]);
    // The documented codes by name, anything else as one `other`: a gateway answering random codes
    // must not grow a series per code.
    for (const [code, n] of Object.entries(b.codes))
      this.codes.inc({ code: code in MESSAGE_CODES ? code : 'other' }, n);
    if (b.throttled > 0) this.throttles.inc(b.throttled);
  }

  /** The exposition text: ours, then BullMQ's queue metrics. */
  async text(): Promise<string> {
    const ours = await this.registry.metrics();
    // BullMQ labels its samples with the queue itself: a global `queue` label would repeat it,
    // which the exposition format forbids (Prometheus then rejects the whole scrape).
    const bull = await this.queue.exportPrometheusMetrics().catch(() => '');
    return ours + (bull ? '\n' + bull + '\n' : '');
  }

  /** Where it listens, once listening. */
  get address(): AddressInfo | undefined {
    return (this.server?.address() as AddressInfo | null) ?? undefined;
  }

  /** Serves GET /metrics, on loopback unless `host` says otherwise; resolves with the port. */
  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      this.text().then(
        (body) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(body),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  /** Stops serving and closes the queue handle (not the worker's connection). Idempotent. */
  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
    await this.queue.close();
  }
}
