/**
 * The console's words for a campaign's state and what it shows of one message (pure). Counts are
 * built by countsOf from a counts hash as the scripts write it, so each case reads as the store
 * would see the campaign.
 */
import { countsOf } from '../src/campaign/counts.js';
import { consoleState, maskPhone, pageOf, summaryOf } from '../src/dashboard/console-view.js';
import { DEFAULT_TIMING } from '../src/campaign/timing.js';

const NOW = Date.UTC(2026, 11, 7, 12, 0);
const counts = (
  raw: Record<string, number>,
  over: { control?: string; at?: number; window?: string; deadline?: number } = {},
) =>
  countsOf(
    'c',
    Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v)])),
    over.control ?? null,
    { ...DEFAULT_TIMING, at: over.at ?? null, window: over.window ?? null, tz: 'UTC' },
    over.deadline,
    NOW,
  );

describe('a campaign in the console', () => {
  it('is named as an operator says it, whatever mix of states it is in', () => {
    expect(consoleState(counts({ total: 10, waiting: 10 }))).toBe('sending');
    expect(consoleState(counts({ total: 10, waiting: 4, active: 2, completed: 4 }))).toBe(
      'sending',
    );
    expect(consoleState(counts({ total: 10, waiting: 10 }, { at: NOW + 3_600_000 }))).toBe(
      'scheduled',
    );
    // A window that opens at 13:00 UTC, now 12:00.
    expect(consoleState(counts({ total: 10, waiting: 10 }, { window: '13:00-14:00' }))).toBe(
      'outside its window',
    );
    expect(
      consoleState(counts({ total: 10, paused: 6, completed: 4 }, { control: 'paused' })),
    ).toBe('paused');
    expect(
      consoleState(counts({ total: 10, cancelled: 6, completed: 4 }, { control: 'cancelled' })),
    ).toBe('cancelled');
    expect(consoleState(counts({ total: 10, expired: 6, completed: 4 }))).toBe('expired');
    expect(consoleState(counts({ total: 10, completed: 9, failed: 1, tracking: 3 }))).toBe(
      'tracking',
    );
    expect(consoleState(counts({ total: 10, completed: 9, failed: 1 }))).toBe('finished');
  });

  it("shows the funnel as each step's share of the one before, and failures by code with names", () => {
    const p = pageOf(
      counts({
        total: 10,
        completed: 8,
        failed: 2,
        'code:1': 8,
        'code:203': 2,
        delivered: 6,
        read: 3,
      }),
      NOW - 60_000,
      [{ at: NOW - 60_000, accepted: 8, delivered: 6 }],
    );
    expect(p.funnel).toEqual([
      { step: 'accepted', count: 8, share: 0.8 },
      { step: 'delivered', count: 6, share: 0.75 },
      { step: 'read', count: 3, share: 0.5 },
    ]);
    expect(p.failures).toEqual([{ code: 203, name: 'ERR_RECIPIENT', count: 2 }]);
    expect(p.timeline).toEqual([
      { at: new Date(NOW - 60_000).toISOString(), accepted: 8, delivered: 6 },
    ]);
  });

  it('has a finish time once nothing of it waits or is on the wire, however it ended', () => {
    const at = NOW - 5000;
    const ended = { total: 10, completed: 4, finishedAt: at };
    expect(
      summaryOf(counts({ ...ended, cancelled: 6 }, { control: 'cancelled' }), NOW).finishedAt,
    ).toBe(new Date(at).toISOString());
    expect(summaryOf(counts({ ...ended, failed: 6 }), NOW).finishedAt).toBe(
      new Date(at).toISOString(),
    );
    expect(summaryOf(counts({ total: 10, completed: 4, waiting: 6 }), NOW).finishedAt).toBeNull();
  });

  it('shows a phone with its middle hidden', () => {
    expect(maskPhone('+380971234567')).toBe('+38097•••4567');
    expect(maskPhone('+4915')).toBe('•••••');
    expect(maskPhone(null)).toBeNull();
  });
});
