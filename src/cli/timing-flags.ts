/**
 * The campaign timing flags, shared by `enqueue` and `schedule`: read into TimingSettings, each
 * error naming its flag. `none` clears a setting on `schedule`.
 */
import type { Command } from 'commander';
import {
  checkTiming,
  PRIORITIES,
  type Priority,
  type ScheduleView,
  type TimingSettings,
} from '../campaign/timing.js';
import { InvalidOptionError } from '../errors.js';
import { parseWhen } from './util.js';

export interface TimingFlags {
  at?: string;
  window?: string;
  tz?: string;
  expires?: string;
  priority?: string;
  weight?: string;
  campaignRate?: string;
}

const FLAG: Record<string, string> = {
  at: '--at',
  window: '--window',
  tz: '--tz',
  expires: '--expires',
  priority: '--priority',
  weight: '--weight',
  campaignRate: '--campaign-rate',
};

export function addTimingFlags(cmd: Command, clearable: boolean): Command {
  const none = clearable ? ', or none to clear it' : '';
  return cmd
    .option(
      '--at <when>',
      `send nothing before this moment (ISO 8601, or 90s/30m/12h/2d from now${none})`,
    )
    .option(
      '--window <HH:MM-HH:MM>',
      `send only inside this daily window, may cross midnight${none}`,
    )
    .option('--tz <zone>', 'IANA time zone of --window (default UTC), e.g. Europe/Kyiv')
    .option(
      '--expires <when>',
      `deadline: what is not sent by then never is (ISO 8601, or 90s/30m/12h/2d from now${none})`,
    )
    .option('--priority <level>', `${PRIORITIES.join('|')} (default normal)`)
    .option('--weight <n>', 'share of the rate among campaigns of its priority (default 1)')
    .option('--campaign-rate <n>', `messages a second for this campaign alone${none}`);
}

/** Flags → settings; nothing given → {}. Throws naming the flag on anything unreadable. */
export function timingFromFlags(
  f: TimingFlags,
  clearable: boolean,
  now = Date.now(),
): TimingSettings {
  const s: TimingSettings = {};
  const cleared = (v: string | undefined): boolean => clearable && v === 'none';
  if (f.at !== undefined) s.at = cleared(f.at) ? null : parseWhen(f.at, '--at', now);
  if (f.window !== undefined) s.window = cleared(f.window) ? null : f.window;
  if (f.tz !== undefined) s.tz = f.tz;
  if (f.expires !== undefined) {
    s.expires = cleared(f.expires) ? null : parseWhen(f.expires, '--expires', now);
  }
  // Checked with the rest by checkTiming below, which names the flag.
  if (f.priority !== undefined) s.priority = f.priority as Priority;
  if (f.weight !== undefined) s.weight = wholeNumber(f.weight, '--weight');
  if (f.campaignRate !== undefined) {
    s.campaignRate = cleared(f.campaignRate)
      ? null
      : wholeNumber(f.campaignRate, '--campaign-rate');
  }
  checkTiming(s, now, (k) => FLAG[k] ?? k);
  return s;
}

function wholeNumber(text: string, flag: string): number {
  if (!/^\d+$/.test(text.trim())) {
    throw new InvalidOptionError(`${flag} must be a whole number (got ${text})`);
  }
  return Number(text);
}

/** One line for people: `priority high, weight 2, from …, window 10:00-20:00 Europe/Kyiv, …`. */
export function describeSchedule(v: ScheduleView): string {
  const parts = [`priority ${v.priority}`];
  if (v.weight !== 1) parts.push(`weight ${v.weight}`);
  if (v.at) parts.push(`not before ${v.at}`);
  if (v.window) parts.push(`window ${v.window} ${v.tz ?? 'UTC'}`);
  parts.push(v.expires ? `expires ${v.expires}` : 'no deadline');
  if (v.campaignRate !== null) parts.push(`at most ${v.campaignRate} msg/s`);
  return parts.join(', ');
}
