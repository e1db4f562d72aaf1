/**
 * What an enqueue reports: counts, and the rows behind them — rejected rows with every problem,
 * duplicates with their line — each list capped (`maxReportedRejects`) and holding only what
 * identifies a row, never its whole value.
 */
import { smsSegments } from './segments.js';
import type { FieldProblem } from '../errors.js';

export interface RejectedRow {
  line: number;
  /**
   * Its id as the input gave it: a number, or a string of at most 100 characters
   * (longer ones end in `… (N characters)`); a non-scalar id is named by its type, `(object)`.
   */
  id?: number | string;
  errors: FieldProblem[];
}

/** A valid row whose id was taken. */
export interface DuplicateRow {
  line: number;
  id: number;
  /**
   * `queue`: the id is queued, sent or ended on this queue already (this campaign or another);
   * `input`: an earlier row of the same input has it.
   */
  of: 'queue' | 'input';
}

export interface EnqueueResult {
  campaign: string;
  /** A dry run (`dryRun`): nothing was written; `enqueued` counts what would have been. */
  dryRun: boolean;
  /** Messages added to the queue by this call. */
  enqueued: number;
  /**
   * Messages whose phone is on the queue's suppression list: recorded (state `suppressed`, in the
   * counts) and never sent; not in `enqueued`.
   */
  suppressed: number;
  /** Messages whose id was already queued (earlier call, other campaign, or earlier in this input). */
  duplicates: number;
  /** Their ids, in input order (the first `maxReportedRejects`). */
  duplicateIds: number[];
  /** Their rows, in input order (the first `maxReportedRejects`). */
  duplicateRows: DuplicateRow[];
  /** Rows that failed validation, with every problem (the first `maxReportedRejects`). */
  rejected: RejectedRow[];
  /** All rejected rows, counted. */
  rejectedCount: number;
  /**
   * Valid rows whose phone was written another way (`097 123 45 67`, `+38 (097) 123-45-67`) and
   * is stored and sent in international form (`+380971234567`).
   */
  phonesRewritten: number;
  /**
   * The SMS fallbacks of the messages enqueued (src/fallback.ts): how many carry one, the segments
   * they would take if every one were sent, and messages by their fallback's segment count.
   */
  sms: SmsFallbackReport;
}

export interface SmsFallbackReport {
  messages: number;
  segments: number;
  /** Segment count → messages whose fallback takes that many ("1", "2", …). */
  bySegments: Record<string, number>;
}

export interface EnqueueProgress {
  rows: number;
  enqueued: number;
  duplicates: number;
  rejected: number;
}

/** An enqueue's report as it is being built. */
export class Report {
  readonly result: EnqueueResult;

  constructor(
    campaign: string,
    dryRun: boolean,
    /** The most rows each list keeps. */
    private readonly max: number,
  ) {
    this.result = {
      campaign,
      dryRun,
      enqueued: 0,
      suppressed: 0,
      duplicates: 0,
      duplicateIds: [],
      duplicateRows: [],
      rejected: [],
      rejectedCount: 0,
      phonesRewritten: 0,
      sms: { messages: 0, segments: 0, bySegments: {} },
    };
  }

  /** A message enqueued (or, in a dry run, one that would be) with a fallback text. */
  fallback(text: string | undefined): void {
    if (text === undefined) return;
    const sms = this.result.sms;
    const n = smsSegments(text).segments;
    sms.messages++;
    sms.segments += n;
    sms.bySegments[n] = (sms.bySegments[n] ?? 0) + 1;
  }

  reject(row: RejectedRow): void {
    this.result.rejectedCount++;
    if (this.result.rejected.length < this.max) this.result.rejected.push(row);
  }

  duplicate(row: DuplicateRow): void {
    const r = this.result;
    r.duplicates++;
    if (r.duplicateRows.length < this.max) {
      r.duplicateRows.push(row);
      r.duplicateIds.push(row.id);
    }
  }

  progress(rows: number): EnqueueProgress {
    const r = this.result;
    return { rows, enqueued: r.enqueued, duplicates: r.duplicates, rejected: r.rejectedCount };
  }
}

/** The most characters of a rejected row's id that its report keeps. */
const REPORTED_ID_CHARS = 100;

/**
 * What a rejected row's report keeps of its id: a number as it is, a string cut to
 * REPORTED_ID_CHARS characters (a fresh copy: a slice would keep the whole value alive, and an
 * 800-row file of 900 KB ids held 974 MB), anything else named by its type — never the value
 * itself, which may be a huge or hostile object (one whose toString throws crashed the report).
 */
export function reportedId(value: unknown): number | string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const id = (value as { id?: unknown }).id;
  switch (typeof id) {
    case 'undefined':
      return undefined;
    case 'number':
      return id;
    case 'string':
      return clip(id);
    case 'boolean':
    case 'bigint':
      return String(id);
    default:
      return id === null ? undefined : Array.isArray(id) ? '(an array)' : `(${typeof id})`;
  }
}

/** A string cut to REPORTED_ID_CHARS characters (code points: no emoji is cut in half). */
function clip(s: string): string {
  if (s.length <= REPORTED_ID_CHARS) return s;
  let points = 0;
  let cut = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    points++;
    if (points === REPORTED_ID_CHARS) cut = i + 1;
  }
  if (points <= REPORTED_ID_CHARS) return s;
  // [...] and join() build a new, flat string: a slice would keep the whole value alive.
  return `${[...s.slice(0, cut)].join('')}… (${points} characters)`;
}
