import type { StoredMessage } from './message.js';

/**
 * A message's record in our store (`vb:msg` while it is queued or being sent): the message and its
 * campaign. Never the API key.
 */
export interface SendJobData {
  campaign: string;
  /**
   * The message's own fields; with `shared`, the fields it shares with its campaign (sender,
   * text, image…) are in that set instead (src/campaign/shared.ts).
   */
  message: StoredMessage;
  /** The shared set the message's other fields are in, if any. */
  shared?: string;
  /**
   * What `<status>` said after acceptance (delivery tracking), written by the workers into the
   * message's finished record (`<prefix>vb:done`, which is this data plus `result` and this);
   * absent until the first answer, and with tracking off.
   */
  delivery?: DeliveryRecord;
}

/** What a package's BullMQ job carries: which package (`vb:pkg`) and its campaign; no message. */
export interface PackageJobData {
  campaign: string;
  /** The package id, which is also the job id. */
  package: string;
}

/** How one message of a package ended, as its job's return value lists it (bull-board shows it). */
export interface PackageMessageResult {
  id: number;
  /** The gateway's msg_id; null when it was not accepted. */
  msgId: number | null;
  /** completed, failed, cancelled or expired. */
  status: 'completed' | 'failed' | 'cancelled' | 'expired' | 'suppressed';
  /** Why it was not accepted. */
  error?: string;
}

/** A package job's return value: the messages it ended, over all its attempts. */
export interface PackageJobResult {
  messages: PackageMessageResult[];
}

/** An accepted message's result, in its finished record (`result`). */
export interface SendJobResult {
  /** The gateway's own id for the message; never 0. */
  msgId: number;
  /** Always 1 (accepted). A 208 on a re-send is recorded as 1 with `recovered: true`. */
  statusCode: number;
  /** The code's name. */
  status: string;
  /** When the accepting answer (or the recovering status answer) arrived, ISO 8601. */
  sentAt: string;
  /** Attempts its package took to send it, this one included. */
  attempts: number;
  /** True when the first answer was lost and the msg_id was read back after a 208. */
  recovered?: boolean;
}

/** How a message that was not accepted ended, as its finished record keeps it. */
export interface FailedEnd {
  /** The gateway's code and reason, or why it was never sent (cancelled, expired). */
  reason: string;
  /** Processing attempts it took (0: never sent). */
  attempts: number;
}

/**
 * A message once it ended (`<prefix>vb:done`, id -> this as JSON): its record and `result`
 * (accepted) or `failed`, then `delivery` as tracking learns it. Redis keeps it without the
 * fields derivable from the rest (campaign/records.ts `readFinished` puts them back).
 */
export type FinishedRecord = SendJobData & {
  /** The package it ended in (its BullMQ job's id). */
  package?: string;
  result?: SendJobResult;
  failed?: FailedEnd;
};

/** BullMQ job name of every package job. */
export const SEND_JOB_NAME = 'send';

/**
 * Completed package jobs kept (the newest), and failed ones likewise, for bull-board: each
 * message's finished record is kept in `vb:done` and the job is removed past these.
 */
export const KEEP_COMPLETED_JOBS = 1000;
export const KEEP_FAILED_JOBS = 1000;

/** What delivery tracking learnt of an accepted message: its finished record's `delivery`. */
export interface DeliveryRecord {
  /** Latest code from `<status>`; null before the gateway gave one. */
  code: number | null;
  /** Its name (DELIVERED, READ, UNDELIVERABLE, CODE_<n> for one the docs do not list). */
  name: string | null;
  /** tracking, delivered (watching for READ), read, undelivered, unknown (gave up), done. */
  state: 'tracking' | 'delivered' | 'read' | 'undelivered' | 'unknown' | 'done';
  /** `date_completed` exactly as the gateway wrote it (no zone, per its docs). */
  dateCompleted: string | null;
  /** The same as an ISO time, read as UTC (the docs name no zone). */
  completedAt: string | null;
  /** When it was delivered, ISO (from date_completed of 102/116, else when we learnt it). */
  deliveredAt: string | null;
  /** When it was read, ISO: the 116's date_completed; null before a read or without that date. */
  readAt: string | null;
  smsCount: number | null;
  /** When we last asked the gateway, ISO. */
  checkedAt: string;
}
