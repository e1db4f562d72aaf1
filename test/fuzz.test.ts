import { Readable } from 'node:stream';
import fc from 'fast-check';
import { Producer } from '../src/producer/producer.js';
import { stringify } from 'csv-stringify/sync';
import { readRows } from '../src/producer/input.js';
import { dropQueue, REDIS_URL, uniqueQueue } from './helpers.js';

const valid = (id: number) => ({
  id,
  phone: '+380971234567',
  sender: 'Shop',
  type: 'text',
  text: `hi ${id}`,
});

/** A row broken in one of the ways real files are. */
const broken = fc.oneof(
  fc.constant({ id: 'abc', phone: '+380971234567', sender: 'S', text: 'x' }),
  fc.constant({ id: 1.5, phone: '+380971234567', sender: 'S', text: 'x' }),
  fc.constant({ id: 7, phone: 380971234567, sender: 'S', text: 'x' }),
  fc.constant({ id: 7, phone: '+380971234567', sender: ['S'], text: 'x' }),
  fc.constant({ id: 7, phone: '+380971234567', sender: 'S', text: 'x'.repeat(1_000_001) }),
  fc.constant({ id: 7, phone: '+3'.repeat(5000), sender: 'S', text: 'x' }),
  fc.constant({ id: 7, phone: '+380971234567', sender: 'S', text: 'a\u0000b' }),
  fc.constant({
    id: 7,
    phone: '+380971234567',
    sender: 'S',
    text: 'x',
    type: 'image',
    image: 'javascript:alert(1)',
  }),
  fc.constant(null),
  fc.constant([1, 2, 3]),
  fc.constant('1,+380971234567,hi'),
  fc.anything(),
);

describe('producer fuzzing: whatever the rows, valid ones are enqueued once and every other one is reported', () => {
  let queueName: string;
  let producer: Producer;
  beforeAll(() => {
    queueName = uniqueQueue('fuzz');
    producer = new Producer({ connection: REDIS_URL, queueName, chunkSize: 7 });
  });
  afterAll(async () => {
    await producer.close();
    await dropQueue(queueName);
  });

  let run = 0;
  it('holds for random mixes of valid, duplicate and broken rows', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.integer({ min: 1, max: 15 }).map((k) => ({ k })),
            broken.map((b) => ({ b })),
          ),
          { maxLength: 40 },
        ),
        async (plan) => {
          const base = ++run * 1000; // ids unique to this run, so runs do not see each other
          const rows = plan.map((p) => ('k' in p ? valid(base + p.k) : p.b));
          // The oracle is the plan, not the validator: `valid` rows are valid by construction,
          // every `broken` one breaks a rule (fc.anything() has no chance of forming a message).
          const expected = { valid: new Set<number>(), dups: 0, rejected: [] as number[] };
          plan.forEach((p, i) => {
            if (!('k' in p)) expected.rejected.push(i + 1);
            else if (expected.valid.has(base + p.k)) expected.dups++;
            else expected.valid.add(base + p.k);
          });
          const campaign = `c${run}`;
          const res = await producer.enqueue(campaign, rows as never); // fuzzed: any shape
          expect(res.enqueued).toBe(expected.valid.size);
          expect(res.duplicates).toBe(expected.dups);
          expect(res.rejected.map((r) => r.line)).toEqual(expected.rejected);
          for (const r of res.rejected) {
            expect(r.errors.length).toBeGreaterThan(0);
            for (const e of r.errors) expect(e.field.length + e.rule.length).toBeGreaterThan(2);
          }
          // Nothing half-written: the queue holds exactly the valid messages, counted once.
          // (Queued messages are not BullMQ jobs yet: their data waits in the queued hash.)
          const { store } = await producer.connection();
          const ids = [...expected.valid];
          const data = await store.queuedData(ids);
          ids.forEach((id, i) => {
            const d = JSON.parse(data[i] ?? '{}') as {
              campaign?: string;
              message?: { id?: number };
            };
            expect([d.campaign, d.message?.id]).toEqual([campaign, id]);
          });
          const counts = await store.counts(campaign);
          expect(counts.total).toBe(expected.valid.size);
        },
      ),
      { numRuns: 40 },
    );
  });
});

async function collect(text: string, format: 'csv' | 'ndjson') {
  const out = [];
  for await (const row of readRows(Readable.from([text]), format)) out.push(row);
  return out;
}

describe('reading hostile files', () => {
  it('reads any CSV body after a good header into rows or per-line errors, never a crash', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.string(),
            fc.constantFrom('"', '""', ',', '\n', '\r\n', '"a\nb"', '1,+380971234567,hi'),
          ),
          { maxLength: 30 },
        ),
        async (parts) => {
          const rows = await collect('id,phone,text\n' + parts.join(''), 'csv');
          for (const r of rows) {
            expect(r.line).toBeGreaterThanOrEqual(1);
            expect(r.value !== undefined || typeof r.error === 'string').toBe(true);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('accounts for every line among good records and junk: each good record read exactly, each junk line a row or an error at its own line, none dropped', async () => {
    // Junk: one line without quotes (a quote may run on to the end of the file by design).
    const junk = fc
      .string({ minLength: 1, maxLength: 30 })
      .map((j) => j.replace(/["\r\n]/g, ''))
      .filter((j) => j.trim() !== '');
    const good = fc.record({ id: fc.string(), phone: fc.string(), text: fc.string() });
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            good.map((g) => ({ g })),
            junk.map((j) => ({ j })),
          ),
          { maxLength: 25 },
        ),
        async (plan) => {
          // The oracle: csv-stringify writes the good records; lines are counted here.
          let text = 'id,phone,text\n';
          let line = 2;
          const expected: Array<{ line: number; good?: Record<string, string> }> = [];
          for (const p of plan) {
            const chunk =
              'g' in p ? stringify([p.g], { columns: ['id', 'phone', 'text'] }) : `${p.j}\n`;
            expected.push('g' in p ? { line, good: p.g } : { line });
            text += chunk;
            line += chunk.split('\n').length - 1;
          }
          const rows = await collect(text, 'csv');
          expect(rows.map((r) => r.line)).toEqual(expected.map((e) => e.line));
          expected.forEach((e, i) => {
            if (e.good) expect(rows[i]).toEqual({ line: e.line, value: e.good });
          });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('reads any NDJSON into values or "not valid JSON" errors with their line', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.json(), fc.string()), { maxLength: 20 }),
        async (lines) => {
          const rows = await collect(lines.join('\n'), 'ndjson');
          for (const r of rows) {
            if (r.error) expect(r.error).toMatch(/^not valid JSON: /);
            expect(r.line).toBeGreaterThanOrEqual(1);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('numbers rows by the line they start on: quoted line breaks, CRLF, a BOM and empty lines count', async () => {
    const text =
      '\uFEFFid,phone,text\r\n1,+380971234567,"two\r\nlines"\r\n\r\n2,+380971234568,"say ""hi"""\r\n' +
      '3,+380971234569\r\n4,+380971234560,"bad"quote\r\n';
    expect(await collect(text, 'csv')).toEqual([
      { line: 2, value: { id: '1', phone: '+380971234567', text: 'two\r\nlines' } },
      { line: 5, value: { id: '2', phone: '+380971234568', text: 'say "hi"' } },
      { line: 6, error: 'expected 3 fields (as in the header), got 2' },
      { line: 7, error: expect.stringContaining('closing quote is followed by more text') },
    ]);
  });

  it('reads a file split anywhere, even inside a character, the same as whole', async () => {
    const text = 'id,phone,text\n1,+380971234567,"Привіт 🎉\n, ""друже"""\n2,+380971234568,ok\n';
    const whole = await collect(text, 'csv');
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const rows = [];
      const pieces = [bytes.subarray(0, cut), bytes.subarray(cut)];
      for await (const row of readRows(Readable.from(pieces), 'csv')) rows.push(row);
      expect(rows).toEqual(whole);
    }
    expect(whole).toEqual([
      { line: 2, value: { id: '1', phone: '+380971234567', text: 'Привіт 🎉\n, "друже"' } },
      { line: 4, value: { id: '2', phone: '+380971234568', text: 'ok' } },
    ]);
  });

  it('stops at a record over a million characters instead of holding the file in memory', async () => {
    const text = 'id,phone,text\n1,+380971234567,ok\n2,+380971234567,"' + 'x'.repeat(1_100_000);
    const pieces = text.match(/[^]{1,65536}/g) as string[];
    const rows = [];
    for await (const row of readRows(Readable.from(pieces), 'csv')) rows.push(row);
    expect(rows).toEqual([
      { line: 2, value: { id: '1', phone: '+380971234567', text: 'ok' } },
      { line: 3, error: expect.stringContaining('over 1000000 characters') },
    ]);
  });

  it('reads back exactly what another CSV writer (csv-stringify) wrote, each row with its line', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            id: fc.string(),
            phone: fc.string(),
            text: fc.oneof(fc.string({ unit: 'grapheme' }), fc.constantFrom('"', '\n', 'a,b', '')),
          }),
          { maxLength: 20 },
        ),
        async (records) => {
          const text = stringify(records, { header: true, columns: ['id', 'phone', 'text'] });
          let line = 2;
          const expected = records.map((value) => {
            const row = { line, value };
            line += 1 + Object.values(value).join('').split('\n').length - 1;
            return row;
          });
          expect(await collect(text, 'csv')).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses an empty CSV file: it has no header to read', async () => {
    await expect(collect('', 'csv')).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('line 1: CSV header: the file is empty'),
    });
    expect(await collect('id,phone\n', 'csv')).toEqual([]);
  });

  it('names the line of a broken CSV record and goes on with the next', async () => {
    const rows = await collect(
      'id,phone,text\n1,+380971234567,ok\n2,+380971234567,"unclosed\n3,+380971234567,after\n',
      'csv',
    );
    expect(rows[0]).toEqual({ line: 2, value: { id: '1', phone: '+380971234567', text: 'ok' } });
    // An unclosed quote runs to the end of the file: the rest is one bad record, reported at the
    // line where it starts.
    expect(rows[1]).toEqual({
      line: 3,
      error: expect.stringContaining('quoted field is not closed'),
    });
    expect(rows).toHaveLength(2);
  });
});
