/**
 * Finished records, composed whole in TypeScript from a message's stored record and its end:
 * nothing in Redis edits JSON (Lua's cjson would round ids past 10^14).
 */
import type { FailedEnd, FinishedRecord, SendJobData, SendJobResult } from '../job.js';
import { unsentReason } from './state.js';

/** A stored record, if the text is one: JSON with its campaign and a message of this id. */
export function parseStored(text: string | null | undefined, id: number): SendJobData | undefined {
  if (!text) return undefined;
  try {
    const r = JSON.parse(text) as Partial<SendJobData> | null;
    if (r && typeof r.campaign === 'string' && r.message && r.message.id === id) {
      return r as SendJobData;
    }
  } catch {
    // not JSON
  }
  return undefined;
}

/**
 * A message's finished record: its stored record (or, when that could not be read, what is
 * known of it), the package it ended in, and its end.
 */
export function finishedRecord(
  stored: SendJobData | undefined,
  at: { campaign: string; id: number; package: string },
  end: { result: SendJobResult } | { failed: FailedEnd },
): string {
  const base: SendJobData = stored ?? { campaign: at.campaign, message: { id: at.id, phone: '' } };
  const rec: FinishedRecord = { ...base, package: at.package, ...end };
  return JSON.stringify(rec);
}

/** The record of a message that ends unsent: its campaign was cancelled or expired. */
export function unsentRecord(
  stored: SendJobData | undefined,
  at: { campaign: string; id: number; package: string },
  how: 'cancelled' | 'expired',
  attempts: number,
): string {
  return finishedRecord(stored, at, {
    failed: { reason: unsentReason(how, at.campaign), attempts },
  });
}
