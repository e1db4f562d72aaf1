/**
 * Finished records, composed whole in TypeScript from a message's stored record and its end:
 * nothing in Redis edits JSON (Lua's cjson would round ids past 10^14).
 *
 * Redis keeps a record without what can be derived from the rest: a result's `statusCode` and
 * `status` (a result is an acceptance: 1, OK), a delivery's `name` (of its `code`), `completedAt`
 * (its `dateCompleted` read as UTC), `readAt` (the same, for a 116), `deliveredAt` when it is that
 * same time, and fields that are null. `readFinished` puts them back, so every reader sees the
 * whole FinishedRecord. It saves ~110 bytes a tracked message (BENCHMARKS.md row 6e).
 */
import type {
  DeliveryRecord,
  FailedEnd,
  FinishedRecord,
  SendJobData,
  SendJobResult,
} from '../job.js';
import { codeName, READ } from '../xml/codes.js';
import { parseGatewayDate } from '../xml/parse.js';
import { unsentReason } from './state.js';
import { expand, type SharedFields } from './shared.js';
import { fallbackCampaign, fallbackId } from '../fallback.js';

/** The code of an accepted message, the only one a result holds. */
const ACCEPTED = 1;
/** Delivery states of a message that was delivered: it has a deliveredAt. */
const WAS_DELIVERED: ReadonlySet<DeliveryRecord['state']> = new Set(['delivered', 'read', 'done']);

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
 * A message's finished record as Redis keeps it: its stored record (or, when that could not be
 * read, what is known of it), the package it ended in, and its end.
 */
export function finishedRecord(
  stored: SendJobData | undefined,
  at: { campaign: string; id: number; package: string },
  end: { result: SendJobResult } | { failed: FailedEnd },
): string {
  const base: SendJobData = stored ?? { campaign: at.campaign, message: { id: at.id, phone: '' } };
  const packed = 'result' in end ? { result: packResult(end.result) } : end;
  return JSON.stringify({ ...base, package: at.package, ...packed });
}

/**
 * What a message's end adds to its webhook event (src/commands/includes/outbox.lua), as JSON
 * members each after a comma: an acceptance's msg_id, a failure's reason (its code comes from
 * its state).
 */
export function endEventMembers(end: { result: SendJobResult } | { failed: FailedEnd }): string {
  return 'result' in end
    ? `,"msgId":${end.result.msgId}`
    : `,"reason":${JSON.stringify(end.failed.reason)}`;
}

/** The gateway's msg_id in a finished record as Redis keeps it, if it has one. */
export function recordMsgId(raw: string | null | undefined): number | undefined {
  return readFinished(raw)?.result?.msgId;
}

/** The record of a message that ends unsent: its campaign was cancelled or expired. */
export function unsentRecord(
  stored: SendJobData | undefined,
  at: { campaign: string; id: number; package: string },
  how: 'cancelled' | 'expired' | 'suppressed',
  attempts: number,
): string {
  return finishedRecord(stored, at, {
    failed: { reason: unsentReason(how, at.campaign), attempts },
  });
}

/** The finished record of a message whose phone is suppressed at enqueue: never sent. */
export function suppressedRecord(stored: SendJobData): string {
  return JSON.stringify({
    ...stored,
    failed: { reason: unsentReason('suppressed', stored.campaign), attempts: 0 },
  });
}

/**
 * A finished record as Redis keeps it, with its delivery set to this one; '' when the text is
 * no record to set it on.
 */
export function withDelivery(raw: string | null | undefined, delivery: DeliveryRecord): string {
  if (!raw) return '';
  try {
    const rec = JSON.parse(raw) as Record<string, unknown> | null;
    return rec && typeof rec === 'object' && !Array.isArray(rec)
      ? JSON.stringify({ ...rec, delivery: packDelivery(delivery) })
      : '';
  } catch {
    return '';
  }
}

/** A finished record as Redis keeps it, whole again; undefined when the text is none. */
export function readFinished(text: string | null | undefined): FinishedRecord | undefined {
  if (!text) return undefined;
  let r: FinishedRecord | null;
  try {
    r = JSON.parse(text) as FinishedRecord | null;
  } catch {
    return undefined;
  }
  if (!r || typeof r !== 'object' || Array.isArray(r)) return undefined;
  const out: FinishedRecord = { ...r };
  if (r.result && typeof r.result === 'object') {
    const statusCode = r.result.statusCode ?? ACCEPTED;
    out.result = { ...r.result, statusCode, status: codeName('message', statusCode) };
  }
  if (r.delivery && typeof r.delivery === 'object') out.delivery = unpackDelivery(r.delivery);
  return out;
}

function packResult(r: SendJobResult): Partial<SendJobResult> {
  const { status: _name, statusCode, ...kept } = r;
  return statusCode === ACCEPTED ? kept : { ...kept, statusCode };
}

/** A delivery without its derivable fields, and without those that are null. */
function packDelivery(d: DeliveryRecord): Partial<DeliveryRecord> {
  const { name: _n, completedAt, readAt: _r, ...kept } = d;
  const out: Partial<DeliveryRecord> = {};
  for (const [k, v] of Object.entries(kept)) {
    if (v !== null) Object.assign(out, { [k]: v });
  }
  if (WAS_DELIVERED.has(d.state) && d.deliveredAt === completedAt) delete out.deliveredAt;
  return out;
}

function unpackDelivery(d: Partial<DeliveryRecord>): DeliveryRecord {
  const code = d.code ?? null;
  const completed = parseGatewayDate(d.dateCompleted ?? undefined);
  const completedAt = completed === undefined ? null : new Date(completed).toISOString();
  const state = d.state ?? 'tracking';
  return {
    code,
    name: code === null ? null : codeName('message', code),
    state,
    dateCompleted: d.dateCompleted ?? null,
    completedAt,
    deliveredAt: d.deliveredAt ?? (WAS_DELIVERED.has(state) ? completedAt : null),
    readAt: code === READ ? completedAt : null,
    smsCount: d.smsCount ?? null,
    checkedAt: d.checkedAt ?? '',
  };
}

/**
 * The record of a message's SMS fallback (src/fallback.ts), composed from its finished record and
 * its shared fields: campaign `<c>~sms`, id 10^15 + id, the phone, the SMS's sender (the Viber
 * sender unless it has its own) and text. Undefined when the message carries no fallback.
 */
export function fallbackRecord(
  finished: FinishedRecord | undefined,
  fields: SharedFields | undefined,
): { id: number; json: string } | undefined {
  if (!finished?.message) return undefined;
  const m = expand(finished.message, fields);
  const sender = m.smsSender ?? m.sender;
  if (!m.smsText || !sender || !m.phone) return undefined;
  const id = fallbackId(m.id);
  const data: SendJobData = {
    campaign: fallbackCampaign(finished.campaign),
    message: { id, phone: m.phone, sender, text: m.smsText },
  };
  return { id, json: JSON.stringify(data) };
}
