/**
 * What a batch is made of and what it reports: shared by runBatch (batch.ts), which sends it, and
 * settle (settle.ts), which records how each of its messages ended.
 */
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { CampaignStore } from '../campaign/store.js';
import type { SharedCache } from '../campaign/shared.js';
import type { GatewayClient } from '../gateway/client.js';
import type { RateLimiter } from '../gateway/rate-limiter.js';
import type { SendJobData, SendJobResult } from '../job.js';
import type { ViberMessage } from '../message.js';
import type { HaltReason } from './outcome.js';

/** A job waiting in a batch, with the processor promise BullMQ awaits for it. */
export interface Pending {
  job: Job<SendJobData, SendJobResult>;
  /** The message id its job id names (`m<id>`); NaN for a job id of another shape. */
  id: number;
  /**
   * Its campaign, from its record in our store (runBatch); '' for a job that names no message
   * enqueued on this queue.
   */
  campaign: string;
  /** Its record in our store (`vb:msg`): what is sent, whatever the job's own data says. */
  stored?: SendJobData;
  /** The whole message (the record's fields over its shared set's), filled in by runBatch. */
  message?: ViberMessage;
  token: string;
  resolve(result: SendJobResult): void;
  reject(err: Error): void;
}

/** What one batch came to; emitted as the worker's `batch` event and logged. */
export interface BatchReport {
  size: number;
  durationMs: number;
  completed: number;
  recovered: number;
  failed: number;
  retried: number;
  requeued: number;
  /** Jobs of paused campaigns, parked instead of sent. */
  parked: number;
  /** Jobs of cancelled campaigns, failed instead of sent. */
  cancelled: number;
  /** Jobs of campaigns past their deadline, failed instead of sent. */
  expired: number;
  /** Jobs of campaigns before their start or outside their window, put back in their backlog. */
  held: number;
  /** Times the gateway throttled this batch (212) before taking it. */
  throttled: number;
  /** Messages by the gateway's per-message code, as answered to this batch (208 included). */
  codes: Record<string, number>;
  /** Package-level code, when the gateway refused the whole package. */
  packageError?: number;
}

export interface BatchContext {
  gateway: GatewayClient;
  /** Campaign-wide fields jobs name instead of carrying (src/campaign/shared.ts). */
  shared: SharedCache;
  store: CampaignStore;
  /** Rate limit and throttle pauses, shared by all workers on the queue. */
  limiter: RateLimiter;
  logger: Logger;
  /** Aborted when shutdown runs out of time: in-flight work hands its jobs back. */
  signal: AbortSignal;
  /** The gateway said 212: pause every worker on the queue (the batch is then sent again). */
  onThrottle(): Promise<void>;
  /** A package was accepted: throttling is over. */
  onAccepted(): void;
  /** The account cannot send: stop taking work. */
  onHalt(halt: HaltReason): void;
  /** Delivery tracking: accepted messages start being tracked, first asked after this, ms. */
  trackAfterMs: number | undefined;
}
