/** Reading NDJSON from a stream that may hold anything: a line is bounded, the rest goes on. */
import { Readable } from 'node:stream';
import { readRows } from '../src/producer/input.js';

async function rowsOf(chunks: string[], max?: number) {
  const out = [];
  for await (const r of readRows(Readable.from(chunks), 'ndjson', max)) out.push(r);
  return out;
}

describe('reading NDJSON', () => {
  it('refuses a line past the cap with its number, never holding it whole, and reads on', async () => {
    // A 3 MB line in 64 KB pieces between two good ones, CRLF line ends.
    const big = ['{"id":2,"text":"', ...Array(48).fill('x'.repeat(65_536)), '"}\r\n'];
    const rows = await rowsOf(['{"id":1}\r\n', ...big, '\r\n{"id":3}']);
    expect(rows).toEqual([
      { line: 1, value: { id: 1 } },
      { line: 2, error: 'a line of over 1000000 characters: not read (maxRowChars)' },
      { line: 4, value: { id: 3 } },
    ]);
  });

  it('takes a line exactly at the cap, and reports bad JSON with at most 100 characters of why', async () => {
    const exact = `{"t":"${'y'.repeat(10 - 8)}"}`; // 10 characters
    const rows = await rowsOf([`${exact}\n`, `${'z'.repeat(11)}\n`, '{"a":\n'], 10);
    expect(rows[0]).toEqual({ line: 1, value: { t: 'yy' } });
    expect(rows[1]).toEqual({
      line: 2,
      error: 'a line of over 10 characters: not read (maxRowChars)',
    });
    expect(rows[2]).toMatchObject({ line: 3, error: expect.stringMatching(/^not valid JSON: /) });
    expect((rows[2] as { error: string }).error.length).toBeLessThanOrEqual(116);
  });
});
