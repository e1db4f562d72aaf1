import {
  decodeInfo,
  encodeInfo,
  startInfo,
  trackStep,
  type TrackingSettings,
} from '../src/tracking/delivery.js';
import { fateOf, parseOutcomes, parseRange, statusAt, type Fate } from '../src/sandbox/delivery.js';
import { parseGatewayDate, type StatusResult } from '../src/xml/parse.js';

const S: TrackingSettings = {
  trackAfterMs: 60_000,
  trackMaxIntervalMs: 1_800_000,
  trackForMs: 72 * 3_600_000,
  readWindowMs: 24 * 3_600_000,
};
const T0 = Date.UTC(2026, 10, 28, 10, 0, 0);
const status = (code: number, dateCompleted?: string): StatusResult => ({
  id: 1,
  smsId: 9,
  code,
  smsCount: 1,
  dateCompleted,
});

describe('what a <status> answer means for a tracked message (pure)', () => {
  const info = startInfo('spring', T0);

  it('keeps asking a message on its way, each interval double the last, capped', () => {
    let i = info;
    let now = T0 + S.trackAfterMs;
    const intervals: number[] = [];
    for (let k = 0; k < 8; k++) {
      const step = trackStep(i, status(101), now, S);
      expect(step.info).toBeDefined();
      intervals.push(step.dueAt - now);
      now = step.dueAt;
      i = step.info!;
    }
    expect(intervals).toEqual([
      60_000, 120_000, 240_000, 480_000, 960_000, 1_800_000, 1_800_000, 1_800_000,
    ]);
  });

  it('counts a delivered message once, keeps watching it for READ, and counts the read once', () => {
    const d = trackStep(info, status(102, '2026-11-28T10:01:30'), T0 + 60_000, S);
    expect(d.deltas).toEqual({ 'dcode:102': 1, delivered: 1 });
    expect(d.record).toMatchObject({
      code: 102,
      name: 'DELIVERED',
      state: 'delivered',
      dateCompleted: '2026-11-28T10:01:30',
      completedAt: '2026-11-28T10:01:30.000Z',
      deliveredAt: '2026-11-28T10:01:30.000Z',
    });
    // Asked again, still 102: nothing counts twice.
    const again = trackStep(d.info!, status(102, '2026-11-28T10:01:30'), d.dueAt, S);
    expect(again.deltas).toEqual({});
    const read = trackStep(again.info!, status(116, '2026-11-28T11:00:00'), again.dueAt, S);
    expect(read.info).toBeUndefined();
    expect(read.deltas).toEqual({ 'dcode:102': -1, 'dcode:116': 1, read: 1, tracking: -1 });
    expect(read.record).toMatchObject({ code: 116, name: 'READ', state: 'read' });
    expect(read.record.deliveredAt).toBe('2026-11-28T10:01:30.000Z');
  });

  it('stops watching a delivered message at the end of the read window, or at once with no window', () => {
    const d = trackStep(info, status(102), T0 + 60_000, S);
    const end = T0 + 60_000 + S.readWindowMs;
    expect(d.dueAt).toBeLessThanOrEqual(end);
    const late = trackStep(d.info!, status(102), end, S);
    expect(late.info).toBeUndefined();
    expect(late.deltas).toEqual({ tracking: -1 });
    const noWindow = trackStep(info, status(102), T0 + 60_000, { ...S, readWindowMs: 0 });
    expect(noWindow.info).toBeUndefined();
    expect(noWindow.deltas).toEqual({ 'dcode:102': 1, delivered: 1, tracking: -1 });
  });

  /** Asks about one message as the tracker would, answering from the sandbox's fate of it. */
  function followToTheEnd(fate: Fate, settings: TrackingSettings) {
    let i = startInfo('c', T0);
    let now = T0 + settings.trackAfterMs;
    const asked: number[] = [];
    for (;;) {
      asked.push(now);
      const { code, dateCompleted } = statusAt(fate, T0, now);
      const step = trackStep(i, status(code, dateCompleted), now, settings);
      if (!step.info) return { asked, last: step };
      expect(step.dueAt).toBeGreaterThan(now);
      now = step.dueAt;
      i = step.info;
    }
  }

  it('asks a delivered, never-read message at most 12 times, and watches it to the end of the read window', () => {
    const scales = [1, 1 / 60, 1 / 3600];
    for (const scale of scales) {
      const s: TrackingSettings = {
        trackAfterMs: S.trackAfterMs * scale,
        trackMaxIntervalMs: S.trackMaxIntervalMs * scale,
        trackForMs: S.trackForMs * scale,
        readWindowMs: S.readWindowMs * scale,
      };
      // Delivered anywhere from at once to 3 minutes (scaled) after acceptance.
      for (const delay of [0, 10_000, 59_000, 61_000, 100_000, 180_000]) {
        const finalAt = T0 + Math.round(delay * scale);
        const { asked, last } = followToTheEnd({ finalCode: 102, finalAt, readAt: undefined }, s);
        expect(asked.length).toBeLessThanOrEqual(12);
        // Still watching until the window ends: the last question is at (or after) its end.
        const deliveredAt = Date.parse(last.record.deliveredAt!);
        expect(asked[asked.length - 1]).toBeGreaterThanOrEqual(deliveredAt + s.readWindowMs);
        expect(asked[asked.length - 2]).toBeLessThan(deliveredAt + s.readWindowMs);
        expect(last.record.state).toBe('done');
      }
    }
  });

  it('sees a read at the first question after it, dated by the gateway', () => {
    const deliveredAt = T0 + 30_000;
    for (const after of [2 * 60_000, 5 * 60_000, 3 * 3_600_000, 23 * 3_600_000]) {
      const readAt = deliveredAt + after;
      const { asked, last } = followToTheEnd({ finalCode: 102, finalAt: deliveredAt, readAt }, S);
      expect(last.record).toMatchObject({ state: 'read', readAt: new Date(readAt).toISOString() });
      // The question before the last still heard 102: the read was seen at the first chance.
      expect(asked[asked.length - 2]).toBeLessThan(readAt);
      expect(asked[asked.length - 1]).toBeGreaterThanOrEqual(readAt);
      // Questions come no sparser than 4x the delivery's age: the read is placed within that.
      const before = asked[asked.length - 2]! - deliveredAt;
      expect(asked[asked.length - 1]! - deliveredAt).toBeLessThanOrEqual(
        Math.max(4 * before, S.trackAfterMs),
      );
    }
  });

  it('counts READ without DELIVERED first as delivered and read', () => {
    const r = trackStep(info, status(116, '2026-11-28T10:05:00'), T0 + 60_000, S);
    expect(r.deltas).toEqual({ 'dcode:116': 1, delivered: 1, read: 1, tracking: -1 });
  });

  it.each([103, 104, 105, 108, 109, 111, 112, 113])(
    'ends tracking on final code %i as undelivered',
    (code) => {
      const r = trackStep(info, status(code, '2026-11-28T10:00:40'), T0 + 60_000, S);
      expect(r.info).toBeUndefined();
      expect(r.deltas).toEqual({ [`dcode:${code}`]: 1, undelivered: 1, tracking: -1 });
      expect(r.record.state).toBe('undelivered');
    },
  );

  it('keeps a code it does not know as it came, and tracks it until the horizon, then unknown', () => {
    const odd = trackStep(info, status(150), T0 + 60_000, S);
    expect(odd.info).toBeDefined();
    expect(odd.record).toMatchObject({ code: 150, name: 'CODE_150', state: 'tracking' });
    const horizon = T0 + S.trackForMs;
    expect(odd.dueAt).toBeLessThanOrEqual(horizon);
    const end = trackStep(odd.info!, undefined, horizon, S);
    expect(end.info).toBeUndefined();
    expect(end.deltas).toEqual({ unknown: 1, tracking: -1 });
    expect(end.record).toMatchObject({ code: 150, state: 'unknown' });
  });

  it('keeps tracking a message the answer left out, without changing its counts', () => {
    const r = trackStep(info, undefined, T0 + 60_000, S);
    expect(r.info).toBeDefined();
    expect(r.deltas).toEqual({});
    expect(r.record).toMatchObject({ code: null, name: null, state: 'tracking' });
  });

  it('stores its state in one short string and reads it back', () => {
    const i = {
      campaign: 'c-1.x',
      acceptedAt: T0,
      intervalMs: 120_000,
      code: 101,
      deliveredAt: undefined,
    };
    expect(decodeInfo(encodeInfo(i))).toEqual(i);
    expect(encodeInfo(i).length).toBeLessThan(48);
  });

  it('reads date_completed as UTC whatever its form, and nothing that is not a date', () => {
    expect(parseGatewayDate('2024-11-11T12:00:00')).toBe(Date.UTC(2024, 10, 11, 12));
    expect(parseGatewayDate('2024-11-30T12:00')).toBe(Date.UTC(2024, 10, 30, 12));
    expect(parseGatewayDate('2024-08-15 15:52:01')).toBe(Date.UTC(2024, 7, 15, 15, 52, 1));
    expect(parseGatewayDate('yesterday')).toBeUndefined();
    expect(parseGatewayDate(undefined)).toBeUndefined();
  });
});

describe("the sandbox's delivery simulation (pure)", () => {
  const sim = {
    delayMs: [1000, 5000] as const,
    outcomes: { 102: 0.85, 105: 0.05, 103: 0.05, 108: 0.05 },
    readShare: 0.5,
    readDelayMs: [1000, 2000] as const,
    seed: 7,
  };

  it('gives each id the same fate whatever the order, and the mix it was asked for', () => {
    const fates = Array.from({ length: 10_000 }, (_, i) => fateOf(i + 1, 0, sim));
    expect(fateOf(77, 0, sim)).toEqual(fates[76]);
    const share = (code: number) => fates.filter((f) => f.finalCode === code).length / 10_000;
    expect(share(102)).toBeGreaterThan(0.83);
    expect(share(102)).toBeLessThan(0.87);
    for (const c of [105, 103, 108]) expect(Math.abs(share(c) - 0.05)).toBeLessThan(0.01);
    const delivered = fates.filter((f) => f.finalCode === 102);
    const read = delivered.filter((f) => f.readAt !== undefined).length / delivered.length;
    expect(Math.abs(read - 0.5)).toBeLessThan(0.02);
    for (const f of fates) {
      expect(f.finalAt).toBeGreaterThanOrEqual(1000);
      expect(f.finalAt).toBeLessThanOrEqual(5000);
    }
    expect(fateOf(77, 0, { ...sim, seed: 8 })).not.toEqual(fates[76]);
  });

  it('answers on the way, then the final code with its date (no zone), then READ', () => {
    const f = { finalCode: 102, finalAt: 4000, readAt: 6000 };
    expect(statusAt(f, 0, 1000)).toEqual({ code: 101 });
    expect(statusAt(f, 0, 3000)).toEqual({ code: 110 });
    expect(statusAt(f, 0, 4000)).toEqual({ code: 102, dateCompleted: '1970-01-01T00:00:04' });
    expect(statusAt(f, 0, 7000)).toEqual({ code: 116, dateCompleted: '1970-01-01T00:00:06' });
  });

  it('reads its flags or names what is wrong', () => {
    expect(parseOutcomes('102=0.85,105=0.15')).toEqual({ 102: 0.85, 105: 0.15 });
    expect(() => parseOutcomes('102:0.5')).toThrow(/--delivery: "102:0.5" is not code=share/);
    expect(parseRange('1000-5000', '--delivery-delay-ms')).toEqual([1000, 5000]);
    expect(parseRange('300', 'x')).toEqual([300, 300]);
    expect(() => parseRange('5-1', '--read-delay-ms')).toThrow(
      /--read-delay-ms must be ms or a range/,
    );
  });
});
