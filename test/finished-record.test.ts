/**
 * A finished record as Redis keeps it (pure): what can be derived is left out of the stored text,
 * and every reader gets the whole record back. The oracle is what tracking and the settle step
 * compose (trackStep's DeliveryRecord, the worker's SendJobResult), not the packing code.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { finishedRecord, readFinished, withDelivery } from '../src/campaign/records.js';
import { startInfo, trackStep, type TrackingSettings } from '../src/tracking/delivery.js';
import type { SendJobData, SendJobResult } from '../src/job.js';
import type { StatusResult } from '../src/xml/parse.js';

const S: TrackingSettings = {
  trackAfterMs: 60_000,
  trackMaxIntervalMs: 1_800_000,
  trackForMs: 72 * 3_600_000,
  readWindowMs: 24 * 3_600_000,
};
const T0 = Date.UTC(2026, 11, 7, 10, 0, 0);
const stored: SendJobData = {
  campaign: 'spring',
  message: {
    id: 9_007_199_254_740_991,
    phone: '+380971234567',
    sender: 'SMSTest',
    type: 'image',
    text: 'Знижка 20% — лише сьогодні 🎉',
    image: 'https://example.com/promo.png',
  },
};
const at = { campaign: 'spring', id: stored.message.id, package: 'p42' };
const result: SendJobResult = {
  msgId: 987_654_321,
  statusCode: 1,
  status: 'OK',
  sentAt: new Date(T0).toISOString(),
  attempts: 2,
};

describe('a finished record as Redis keeps it', () => {
  it('reads back whole: the message, its package and its result with the code name', () => {
    const text = finishedRecord(stored, at, { result });
    expect(JSON.parse(text)).not.toHaveProperty('result.status');
    expect(readFinished(text)).toEqual({ ...stored, package: 'p42', result });
  });

  it('reads back a failure as it was written', () => {
    const failed = { reason: '203 ERR_RECIPIENT: incorrect recipient number', attempts: 1 };
    expect(readFinished(finishedRecord(stored, at, { failed }))).toEqual({
      ...stored,
      package: 'p42',
      failed,
    });
  });

  it('reads back every delivery tracking composes, the derivable fields left out of the text', () => {
    const codes = fc.constantFrom(1, 101, 102, 103, 105, 108, 116, 999);
    const date = fc.option(
      fc
        .integer({ min: 0, max: 3_600_000 })
        .map((ms) => new Date(T0 + ms).toISOString().slice(0, 19).replace('T', ' ')),
      { nil: undefined },
    );
    const answer = fc.option(
      fc.record({
        code: codes,
        dateCompleted: date,
        smsCount: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
      }),
      { nil: undefined },
    );
    fc.assert(
      fc.property(answer, answer, fc.integer({ min: 1, max: 80 * 3_600_000 }), (a, b, dt) => {
        const st = (x: typeof a): StatusResult | undefined => x && { id: at.id, smsId: 7, ...x };
        const first = trackStep(startInfo('spring', T0), st(a), T0 + S.trackAfterMs, S);
        const steps = [first];
        if (first.info) steps.push(trackStep(first.info, st(b), T0 + S.trackAfterMs + dt, S));
        for (const step of steps) {
          const text = withDelivery(finishedRecord(stored, at, { result }), step.record);
          const kept = (JSON.parse(text) as { delivery: Record<string, unknown> }).delivery;
          for (const derived of ['name', 'completedAt', 'readAt'])
            expect(kept).not.toHaveProperty(derived);
          expect(readFinished(text)).toEqual({
            ...stored,
            package: 'p42',
            result,
            delivery: step.record,
          });
        }
      }),
      { numRuns: 500 },
    );
  });

  it('is none when the text is not a record', () => {
    for (const text of [null, '', 'not json', '[1]', 'null', '7'])
      expect(readFinished(text)).toBeUndefined();
    expect(withDelivery('[1]', trackStep(startInfo('c', T0), undefined, T0, S).record)).toBe('');
  });
});
