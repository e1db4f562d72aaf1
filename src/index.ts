/** viber-bulk's public API. */
export { Producer } from './producer/producer.js';
export type { MessageRow, WaitOptions } from './producer/producer.js';
export type { EnqueueOptions, InputRow } from './producer/enqueue.js';
export type {
  DuplicateRow,
  EnqueueProgress,
  EnqueueResult,
  RejectedRow,
} from './producer/report.js';
export type { ProducerOptions } from './producer/options.js';
export {
  validateMessage,
  type MessageDefaults,
  type ValidationRules,
} from './producer/validate.js';
export { createWorker, SendWorker, type HaltReason } from './worker/send-worker.js';
export type { SendWorkerOptions } from './worker/options.js';
export type { BatchReport } from './worker/pending.js';
export { WorkerMetrics } from './worker/metrics.js';
export type { WebhookOptions } from './webhook/options.js';
export type { WebhookEvent, WebhookEventType } from './webhook/event.js';
export type { WebhookReport } from './webhook/sender.js';
export { Outbox, type OutboxStats } from './webhook/outbox.js';
export { startDashboard, type Dashboard, type DashboardOptions } from './dashboard/server.js';
export type { CampaignControl, CampaignCounts, DeliveryCounts } from './campaign/counts.js';
export { GatewayClient } from './gateway/client.js';
export type { GatewayOptions } from './gateway/options.js';
export { Inspector, type InspectorOptions, type MessageResult } from './inspect/inspector.js';
export {
  SandboxGateway,
  type Fault,
  type FaultRate,
  type SandboxOptions,
} from './sandbox/server.js';
export * from './xml/index.js';
export * from './errors.js';
export type { ViberMessage, MessageType } from './message.js';
export { deleteQueueKeys } from './redis.js';
export type { FailedEnd, FinishedRecord, SendJobData, SendJobResult } from './job.js';
