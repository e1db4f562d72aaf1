/**
 * The webhook sender's metrics (src/webhook/sender.ts), beside the worker's (metrics.ts): events
 * by what became of them, requests by result class, how old a request's oldest event is when it
 * is delivered, and the queue's outbox read at scrape time. Registered only on a worker with a
 * webhook.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { OutboxStats } from '../webhook/outbox.js';
import type { WebhookReport } from '../webhook/sender.js';
import type { SendWorker } from './send-worker.js';

/** A request's result as a bounded label: 2xx, 410, 3xx, 4xx, 5xx, timeout, connection. */
function resultClass(result: string): string {
  if (result === '2xx' || result === '410' || result === 'timeout') return result;
  const m = /^HTTP (\d)\d\d$/.exec(result);
  return m ? `${m[1]}xx` : 'connection';
}

export function registerWebhookMetrics(r: Registry, worker: SendWorker): void {
  const sender = worker.webhooks;
  if (!sender) return;
  const events = new Counter({
    name: 'viber_bulk_webhook_events_total',
    help: 'Webhook events this worker settled, by outcome (delivered, retried, given_up)',
    labelNames: ['outcome'],
    registers: [r],
  });
  for (const outcome of ['delivered', 'retried', 'given_up']) events.inc({ outcome }, 0);
  const requests = new Counter({
    name: 'viber_bulk_webhook_requests_total',
    help: 'Webhook requests by result (2xx, 410, 3xx, 4xx, 5xx, timeout, connection)',
    labelNames: ['result'],
    registers: [r],
  });
  const latency = new Histogram({
    name: 'viber_bulk_webhook_delivery_seconds',
    help: "Age of each delivered request's oldest event when the endpoint took it (from the change it tells of)",
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86_400],
    registers: [r],
  });
  // One read of the outbox a scrape: the registry collects its gauges at once, and they share it.
  let reading: Promise<OutboxStats> | undefined;
  const stats = (): Promise<OutboxStats> =>
    (reading ??= sender.stats().finally(() => setImmediate(() => (reading = undefined))));
  new Gauge({
    name: 'viber_bulk_webhook_outbox_events',
    help: "Events in the queue's webhook outbox: queued (waiting or being retried), failed (given up)",
    labelNames: ['state'],
    registers: [r],
    async collect() {
      const s = await stats();
      this.set({ state: 'queued' }, s.queued);
      this.set({ state: 'failed' }, s.failed);
    },
  });
  new Gauge({
    name: 'viber_bulk_webhook_events_dropped',
    help: "Events the queue's outbox dropped because it was full, ever (read at scrape time)",
    registers: [r],
    async collect() {
      this.set((await stats()).dropped);
    },
  });
  worker.on('webhook', (w: WebhookReport) => {
    requests.inc({ result: resultClass(w.result) });
    if (w.delivered > 0) events.inc({ outcome: 'delivered' }, w.delivered);
    if (w.retried > 0) events.inc({ outcome: 'retried' }, w.retried);
    if (w.givenUp > 0) events.inc({ outcome: 'given_up' }, w.givenUp);
    if (w.oldestAgeMs !== undefined) latency.observe(w.oldestAgeMs / 1000);
  });
}
