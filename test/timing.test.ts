/**
 * Campaign timing, pure: send windows in a zone (across midnight and across DST changes, computed,
 * not waited for), start times, and the settings' errors. The expected instants are written out in
 * UTC by hand from the zone's rules (Europe/Kyiv: UTC+2 in winter, UTC+3 in summer; 2026's changes
 * at 01:00 UTC on 29 March and 25 October), not computed by the code under test.
 */
import {
  checkTiming,
  DEFAULT_TIMING,
  gateOf,
  mergeTiming,
  OPEN_END,
  parseWindow,
  windowInterval,
} from '../src/campaign/timing.js';
import { timingFromFlags } from '../src/cli/timing-flags.js';

const utc = (iso: string): number => Date.parse(iso);
const interval = (open: string, close: string): [number, number] => [utc(open), utc(close)];

describe('a daily send window in a time zone', () => {
  it('is open from its start to its end, in the zone, on the day it is asked', () => {
    expect(windowInterval('10:00-20:00', 'Europe/Kyiv', utc('2026-01-15T09:00:00Z'))).toEqual(
      interval('2026-01-15T08:00:00Z', '2026-01-15T18:00:00Z'),
    );
  });

  it('after it closes, the next one is tomorrow’s', () => {
    expect(windowInterval('10:00-20:00', 'Europe/Kyiv', utc('2026-01-15T18:00:00Z'))).toEqual(
      interval('2026-01-16T08:00:00Z', '2026-01-16T18:00:00Z'),
    );
  });

  it('keeps its wall-clock hours across the spring DST change (one hour earlier in UTC)', () => {
    // 28 March: UTC+2; 29 March from 01:00 UTC: UTC+3.
    expect(windowInterval('10:00-20:00', 'Europe/Kyiv', utc('2026-03-28T12:00:00Z'))).toEqual(
      interval('2026-03-28T08:00:00Z', '2026-03-28T18:00:00Z'),
    );
    expect(windowInterval('10:00-20:00', 'Europe/Kyiv', utc('2026-03-28T19:00:00Z'))).toEqual(
      interval('2026-03-29T07:00:00Z', '2026-03-29T17:00:00Z'),
    );
  });

  it('crosses midnight (21:00-08:00), and over the autumn DST night lasts an hour longer', () => {
    // Opens 24 Oct 21:00 at UTC+3, closes 25 Oct 08:00 at UTC+2: 12 hours, not 11.
    expect(windowInterval('21:00-08:00', 'Europe/Kyiv', utc('2026-10-24T12:00:00Z'))).toEqual(
      interval('2026-10-24T18:00:00Z', '2026-10-25T06:00:00Z'),
    );
    // Asked inside it, after midnight: the interval that opened yesterday.
    expect(windowInterval('21:00-08:00', 'Europe/Kyiv', utc('2026-10-25T03:00:00Z'))).toEqual(
      interval('2026-10-24T18:00:00Z', '2026-10-25T06:00:00Z'),
    );
  });

  it('a start skipped by the spring change opens at the first instant after the gap', () => {
    // 03:30 does not exist in Kyiv on 29 March 2026 (03:00 → 04:00): opens at 04:30 UTC+3.
    expect(windowInterval('03:30-05:00', 'Europe/Kyiv', utc('2026-03-29T00:00:00Z'))).toEqual(
      interval('2026-03-29T01:30:00Z', '2026-03-29T02:00:00Z'),
    );
  });

  it('in UTC by default, through the gate', () => {
    const t = { ...DEFAULT_TIMING, window: '21:00-08:00' };
    expect(gateOf(t, utc('2026-06-01T12:00:00Z'))).toEqual({
      from: utc('2026-06-01T21:00:00Z'),
      until: utc('2026-06-02T08:00:00Z'),
    });
  });
});

describe('the gate: start time and window together', () => {
  const at = utc('2026-06-01T15:30:00Z');

  it('without a window: from the start time, never closing', () => {
    expect(gateOf({ ...DEFAULT_TIMING, at }, utc('2026-06-01T00:00:00Z'))).toEqual({
      from: at,
      until: OPEN_END,
    });
    expect(gateOf(DEFAULT_TIMING, 0)).toEqual({ from: 0, until: OPEN_END });
  });

  it('a start inside the window opens at the start', () => {
    const t = { ...DEFAULT_TIMING, at, window: '10:00-20:00', tz: 'UTC' };
    expect(gateOf(t, utc('2026-06-01T00:00:00Z'))).toEqual({
      from: at,
      until: utc('2026-06-01T20:00:00Z'),
    });
  });

  it('a start after the day’s window opens with the next day’s', () => {
    const t = { ...DEFAULT_TIMING, at: utc('2026-06-01T21:00:00Z'), window: '10:00-20:00' };
    expect(gateOf(t, utc('2026-06-01T00:00:00Z'))).toEqual({
      from: utc('2026-06-02T10:00:00Z'),
      until: utc('2026-06-02T20:00:00Z'),
    });
  });
});

describe('timing settings', () => {
  it('a later value replaces the stored one; null clears; what is left out stays', () => {
    const stored = mergeTiming(DEFAULT_TIMING, {
      window: '10:00-20:00',
      tz: 'Europe/Kyiv',
      priority: 'low',
    });
    expect(mergeTiming(stored, { window: null, weight: 3 })).toEqual({
      ...DEFAULT_TIMING,
      tz: 'Europe/Kyiv',
      priority: 'low',
      weight: 3,
    });
  });

  it.each([
    [{ window: '25:00-08:00' }, '--window: 25:00 is not a time of day'],
    [{ window: '10:00' }, '--window must be HH:MM-HH:MM'],
    [{ window: '10:00-10:00' }, 'opens and closes at the same time'],
    [{ tz: 'Europe/Kiyv' }, '--tz: Europe/Kiyv is not a time zone'],
    [{ at: 'next tuesday' }, '--at must be an ISO 8601 time'],
    [{ expires: '2020-01-01T00:00:00Z' }, '--expires is already in the past'],
    [{ priority: 'urgent' }, '--priority must be one of high, normal, low'],
    [{ weight: '0' }, '--weight must be a whole number in 1..1000'],
    [{ weight: '1.5' }, '--weight must be a whole number'],
    [{ campaignRate: 'fast' }, '--campaign-rate must be a whole number'],
  ])('refuses %j naming the flag', (flags, message) => {
    expect(() => timingFromFlags(flags, false)).toThrow(message);
  });

  it('the library names the setting, with code INVALID_OPTION', () => {
    expect(() => checkTiming({ tz: 'Mars/Base' })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringContaining('tz:') }),
    );
    expect(() => parseWindow('9:00-17:00')).toThrow('9:00 is not a time of day');
  });

  it('none clears a setting on schedule, and is refused on enqueue', () => {
    expect(timingFromFlags({ window: 'none', campaignRate: 'none', at: 'none' }, true)).toEqual({
      window: null,
      campaignRate: null,
      at: null,
    });
    expect(() => timingFromFlags({ window: 'none' }, false)).toThrow('--window must be HH:MM');
  });
});
