/**
 * What a batch (one attempt at a package) is made of and what it reports: shared by runBatch
 * (batch.ts), which sends it, and settle (settle.ts), which records how each of its messages ended.
 */
import type { Logger } from 'pino';
import type { CampaignStore, HeldLetter } from '../campaign/store.js';
import type { SharedCache } from '../campaign/shared.js';
import type { GatewayClient } from '../gateway/client.js';
import type { RateLimiter } from '../gateway/rate-limiter.js';
import type { SendJobData } from '../job.js';
import type { ViberMessage } from '../message.js';
import type { HaltReason } from './outcome.js';

/** One message of the package being sent. */
export interface Pending {
  /** Its id, as the package holds it. */
  id: number;
  /** Its campaign: the package's. */
  campaign: string;
  /** Its stored record as Redis holds it (null once the message ended). */
  raw: string | null;
  /** Its record, parsed: what is sent, whatever the job's own data says. */
  stored?: SendJobData;
  /** The whole message (the record's fields over its shared set's), filled in by runBatch. */
  message?: ViberMessage;
}

/** The package job a batch is one attempt at. */
export interface PackageAttempt {
  id: string;
  campaign: string;
  /** Attempts made before this one (BullMQ's `attemptsMade`). */
  attemptsMade: number;
  /** Whether a retry would fail for good instead (this is the job's last attempt). */
  last: boolean;
  /** Why the package's campaign may not send now, as it was opened. */
  held: HeldLetter | undefined;
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
  /** The package's id (its BullMQ job's). */
  package: string;
  /** A package of SMS fallbacks (src/fallback.ts), not Viber messages. */
  sms: boolean;
  /** Messages of paused campaigns, parked instead of sent. */
  parked: number;
  /** Messages of cancelled campaigns, ended instead of sent. */
  cancelled: number;
  /** Messages of campaigns past their deadline, ended instead of sent. */
  expired: number;
  /** Messages whose phone is suppressed, ended instead of sent. */
  suppressed: number;
  /** Messages of campaigns before their start or outside their window, put back in their backlog. */
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
  /** Aborted when shutdown runs out of time: in-flight work hands its package back. */
  signal: AbortSignal;
  /** The gateway said 212: pause every worker on the queue (the batch is then sent again). */
  onThrottle(): Promise<void>;
  /** A package was accepted: throttling is over. */
  onAccepted(): void;
  /** The account cannot send: stop taking work. */
  onHalt(halt: HaltReason): void;
  /**
   * Delivery tracking (undefined when off): accepted messages start being tracked, first asked
   * `afterMs` after acceptance, and are tracked `horizonMs` at the most (trackForMs + readWindowMs).
   */
  tracking: { afterMs: number; horizonMs: number } | undefined;
}
