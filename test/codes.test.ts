import { classify, codeName, MESSAGE_CODES, PACKAGE_CODES } from '../src/xml/codes.js';
import { decideBatch } from '../src/worker/outcome.js';

describe('the status-code table', () => {
  it('names every documented per-message and package code', () => {
    expect(Object.keys(MESSAGE_CODES).map(Number)).toEqual([
      1, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 116, 200, 201, 202,
      203, 204, 206, 207, 208, 211,
    ]);
    expect(Object.keys(PACKAGE_CODES).map(Number)).toEqual([200, 201, 202, 205, 209, 210, 212]);
    expect(codeName('message', 203)).toBe('ERR_RECIPIENT');
    expect(codeName('package', 202)).toBe('ERR_AUTHORIZATION');
    expect(codeName('message', 999)).toBe('CODE_999');
  });

  it.each([
    [1, 'accepted'],
    [208, 'duplicate'],
    [201, 'permanent'],
    [202, 'permanent'],
    [203, 'permanent'],
    [204, 'permanent'],
    [206, 'account'],
    [207, 'account'],
    [200, 'transient'],
    [555, 'unknown'],
  ])('classifies per-message code %i as %s', (c, kind) => {
    expect(classify('message', c)).toBe(kind);
  });

  it.each([
    [200, 'transient'],
    [201, 'malformed'],
    [202, 'account'],
    [205, 'account'],
    [209, 'account'],
    [210, 'account'],
    [212, 'throttled'],
    [1, 'unknown'],
  ])('classifies package code %i as %s', (c, kind) => {
    expect(classify('package', c)).toBe(kind);
  });
});

describe('what an answer means for each message of a batch', () => {
  const results = (...rows: Array<[number, number, number]>) => ({
    kind: 'results' as const,
    results: new Map(rows.map(([id, msgId, code]) => [id, { id, msgId, code }])),
    missing: [],
  });

  it('completes accepted messages, fails permanent ones, recovers 208s and retries the missing', () => {
    const d = decideBatch(
      { ...results([1, 11, 1], [2, 0, 203], [3, 0, 208]), missing: [4] },
      [1, 2, 3, 4],
    );
    expect(d.decisions.get(1)).toEqual({ action: 'complete', msgId: 11 });
    expect(d.decisions.get(2)).toEqual({
      action: 'fail',
      code: 203,
      reason: '203 ERR_RECIPIENT: incorrect recipient number',
    });
    expect(d.decisions.get(3)).toEqual({ action: 'recover' });
    expect(d.decisions.get(4)).toMatchObject({
      action: 'retry',
      reason: 'missing from the gateway answer',
    });
    expect(d).toMatchObject({ throttle: false, halt: undefined, bisect: false });
  });

  it('requeues the messages and halts on a per-message account code (206 billing)', () => {
    const d = decideBatch(results([1, 0, 206], [2, 12, 1]), [1, 2]);
    expect(d.decisions.get(1)).toMatchObject({ action: 'requeue' });
    expect(d.decisions.get(2)).toEqual({ action: 'complete', msgId: 12 });
    expect(d.halt).toEqual({ level: 'message', code: 206, name: 'ERR_BILLING' });
  });

  it('never completes an accepted message without a msg_id: it retries and recovers it later', () => {
    expect(decideBatch(results([1, 0, 1]), [1]).decisions.get(1)).toMatchObject({
      action: 'retry',
    });
  });

  it('requeues everything and throttles on package 212', () => {
    const d = decideBatch({ kind: 'package-error', code: 212 }, [1, 2]);
    expect(d.throttle).toBe(true);
    expect([...d.decisions.values()].map((x) => x.action)).toEqual(['requeue', 'requeue']);
  });

  it.each([202, 205, 209, 210])('requeues everything and halts on package %i', (c) => {
    const d = decideBatch({ kind: 'package-error', code: c }, [1, 2]);
    expect(d.halt).toMatchObject({ level: 'package', code: c });
    expect([...d.decisions.values()].every((x) => x.action === 'requeue')).toBe(true);
  });

  it('bisects a batch the gateway could not read (201), and fails a lone message it could not read', () => {
    expect(decideBatch({ kind: 'package-error', code: 201 }, [1, 2]).bisect).toBe(true);
    expect(decideBatch({ kind: 'package-error', code: 201 }, [1]).decisions.get(1)).toMatchObject({
      action: 'fail',
    });
  });

  it('retries everything on package 200 and on unknown package codes', () => {
    for (const c of [200, 299]) {
      const d = decideBatch({ kind: 'package-error', code: c }, [1]);
      expect(d.decisions.get(1)).toMatchObject({ action: 'retry' });
      expect(d.halt).toBeUndefined();
    }
  });
});
