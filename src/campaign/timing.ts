/**
 * Campaign timing, pure: the settings (start time, daily send window in a zone, priority, weight,
 * a campaign's own rate cap), their validation, and the "gate" — the one interval [from, until) in
 * which the campaign may send now or next, in plain UTC milliseconds.
 *
 * Lua cannot read time zones, so the zone arithmetic happens here (Luxon, over Node's ICU data) and
 * Redis only ever compares numbers: the dispatcher and the activate step hold a campaign back while
 * `now < from` or `now >= until`; once `until` passes, a worker computes the next interval.
 */
import { DateTime, IANAZone } from 'luxon';
import { InvalidOptionError } from '../errors.js';

export const PRIORITIES = ['high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** What enqueue and schedule take. A field left out keeps its stored value; null clears it. */
export interface TimingSettings {
  /** Nothing is sent before this moment. */
  at?: Date | null;
  /** Daily send window, `HH:MM-HH:MM` in `tz`; may cross midnight (`21:00-08:00`). */
  window?: string | null;
  /** IANA zone of the window (default UTC). */
  tz?: string;
  /** Deadline: what is not sent by then is never sent (state `expired`). */
  expires?: Date | null;
  /** `high` goes before every waiting `normal` message, `normal` before `low`. */
  priority?: Priority;
  /** Share of the rate among campaigns of the same priority (default 1). */
  weight?: number;
  /** Messages a second for this campaign alone, inside the queue's rate. */
  campaignRate?: number | null;
}

/** What is stored (one JSON a campaign) and shown by `status --json` as `schedule`. */
export interface StoredTiming {
  at: number | null;
  window: string | null;
  tz: string | null;
  priority: Priority;
  weight: number;
  campaignRate: number | null;
}

export const DEFAULT_TIMING: StoredTiming = {
  at: null,
  window: null,
  tz: null,
  priority: 'normal',
  weight: 1,
  campaignRate: null,
};

/** "Never closes": a gate without a window. Kept well inside a double's exact integers. */
export const OPEN_END = 8_000_000_000_000_000;

export interface Gate {
  /** The campaign may send from this moment (ms)… */
  from: number;
  /** …until this one, exclusive (ms); OPEN_END when it has no window. */
  until: number;
}

const HHMM = /^(\d{2}):(\d{2})$/;

/** `HH:MM-HH:MM` → minutes of the day; the error says which part is wrong. */
export function parseWindow(text: string, flag = '--window'): { start: number; end: number } {
  const parts = text.trim().split('-');
  if (parts.length !== 2) {
    throw new InvalidOptionError(`${flag} must be HH:MM-HH:MM, e.g. 10:00-20:00 (got ${text})`);
  }
  const [start, end] = parts.map((p) => {
    const m = HHMM.exec(p.trim());
    const h = Number(m?.[1]);
    const min = Number(m?.[2]);
    if (!m || h > 23 || min > 59) {
      throw new InvalidOptionError(
        `${flag}: ${p.trim()} is not a time of day (HH:MM, 00:00 to 23:59) in ${text}`,
      );
    }
    return h * 60 + min;
  }) as [number, number];
  if (start === end) {
    throw new InvalidOptionError(`${flag}: the window opens and closes at the same time (${text})`);
  }
  return { start, end };
}

export function assertZone(tz: string, flag = '--tz'): void {
  if (!IANAZone.isValidZone(tz)) {
    throw new InvalidOptionError(
      `${flag}: ${tz} is not a time zone this system knows (an IANA name, e.g. Europe/Kyiv or UTC)`,
    );
  }
}

/** Checks settings as given (before anything is written); the error names the setting. */
export function checkTiming(
  s: TimingSettings,
  now = Date.now(),
  name: (setting: string) => string = (x) => x,
): void {
  if (s.at !== undefined && s.at !== null && !validDate(s.at)) {
    throw new InvalidOptionError(`${name('at')} is not a valid time`);
  }
  if (s.expires !== undefined && s.expires !== null) {
    if (!validDate(s.expires))
      throw new InvalidOptionError(`${name('expires')} is not a valid time`);
    if (s.expires.getTime() <= now) {
      throw new InvalidOptionError(
        `${name('expires')} is already in the past (${s.expires.toISOString()}): nothing would be sent`,
      );
    }
  }
  if (s.window !== undefined && s.window !== null) parseWindow(s.window, name('window'));
  if (s.tz !== undefined) assertZone(s.tz, name('tz'));
  if (s.priority !== undefined && !PRIORITIES.includes(s.priority)) {
    throw new InvalidOptionError(
      `${name('priority')} must be one of ${PRIORITIES.join(', ')} (got ${String(s.priority)})`,
    );
  }
  if (
    s.weight !== undefined &&
    !(Number.isInteger(s.weight) && s.weight >= 1 && s.weight <= 1000)
  ) {
    throw new InvalidOptionError(
      `${name('weight')} must be a whole number in 1..1000 (got ${s.weight})`,
    );
  }
  const r = s.campaignRate;
  if (r !== undefined && r !== null && !(Number.isInteger(r) && r >= 1 && r <= 1_000_000)) {
    throw new InvalidOptionError(
      `${name('campaignRate')} must be a whole number in 1..1000000 (got ${r})`,
    );
  }
}

const validDate = (d: unknown): d is Date => d instanceof Date && !Number.isNaN(d.getTime());

/** The stored settings with the given ones applied (left out: kept; null: cleared). */
export function mergeTiming(stored: StoredTiming, s: TimingSettings): StoredTiming {
  const out = { ...stored };
  if (s.at !== undefined) out.at = s.at === null ? null : s.at.getTime();
  if (s.window !== undefined) out.window = s.window === null ? null : s.window.trim();
  if (s.tz !== undefined) out.tz = s.tz;
  if (s.priority !== undefined) out.priority = s.priority;
  if (s.weight !== undefined) out.weight = s.weight;
  if (s.campaignRate !== undefined) out.campaignRate = s.campaignRate;
  return out;
}

/** Does the setting change anything the dispatcher reads? (enqueue writes only when it does) */
export function touchesTiming(s: TimingSettings): boolean {
  return (
    s.at !== undefined ||
    s.window !== undefined ||
    s.tz !== undefined ||
    s.priority !== undefined ||
    s.weight !== undefined ||
    s.campaignRate !== undefined
  );
}

/** The local wall-clock `minutes` of the day `day` (a DateTime in the zone) → UTC ms. */
function wallClock(day: DateTime, minutes: number): number {
  // Luxon moves a time skipped by a DST change forward by the gap, and picks the earlier of
  // two times repeated by one: a 02:30 window start on the spring-forward night opens at 03:30.
  return DateTime.fromObject(
    {
      year: day.year,
      month: day.month,
      day: day.day,
      hour: Math.floor(minutes / 60),
      minute: minutes % 60,
    },
    { zone: day.zone },
  ).toMillis();
}

/**
 * The window's interval that is open at `t` or opens next: [open, close) with close > t.
 * Days are walked in the zone, so a window keeps its wall-clock times across DST changes.
 */
export function windowInterval(window: string, tz: string, t: number): [number, number] {
  const { start, end } = parseWindow(window);
  const today = DateTime.fromMillis(t, { zone: tz }).startOf('day');
  for (let d = -1; d <= 2; d++) {
    const day = today.plus({ days: d });
    const open = wallClock(day, start);
    const close = wallClock(end > start ? day : day.plus({ days: 1 }), end);
    if (close > t && close > open) return [open, close];
  }
  // Unreachable for a valid window: some interval among four consecutive days closes after t.
  throw new Error(`no open interval found for window ${window} in ${tz}`);
}

/** The gate now: when the campaign may send next, and until when. */
export function gateOf(timing: StoredTiming, now: number): Gate {
  const at = timing.at ?? 0;
  if (!timing.window) return { from: at, until: OPEN_END };
  const [open, close] = windowInterval(timing.window, timing.tz ?? 'UTC', Math.max(now, at));
  // `at` inside an interval: from `at`. `at` after it closes was handled by starting at `at`.
  return { from: Math.max(open, at), until: close };
}

/** The schedule as `status --json` shows it (null where unset). */
export interface ScheduleView {
  at: string | null;
  window: string | null;
  tz: string | null;
  expires: string | null;
  priority: Priority;
  weight: number;
  campaignRate: number | null;
}

export function timingView(t: StoredTiming, expires: number | undefined): ScheduleView {
  return {
    at: t.at === null ? null : new Date(t.at).toISOString(),
    window: t.window,
    tz: t.window ? (t.tz ?? 'UTC') : t.tz,
    expires: expires === undefined ? null : new Date(expires).toISOString(),
    priority: t.priority,
    weight: t.weight,
    campaignRate: t.campaignRate,
  };
}

/** Priorities as the Lua scripts compare them: lower goes first. */
export const PRIORITY_RANK: Record<Priority, number> = { high: 0, normal: 1, low: 2 };
