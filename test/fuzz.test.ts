import { Readable } from 'node:stream';
import fc from 'fast-check';
import { Producer } from '../src/producer/producer.js';
import { readRows } from '../src/producer/input.js';
import { validateMessage } from '../src/producer/validate.js';
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
          const expected = { valid: new Set<number>(), dups: 0, rejected: [] as number[] };
          rows.forEach((r, i) => {
            if (!validateMessage(r).ok) expected.rejected.push(i + 1);
            else if (expected.valid.has((r as { id: number }).id)) expected.dups++;
            else expected.valid.add((r as { id: number }).id);
          });
          const campaign = `c${run}`;
          const res = await producer.enqueue(campaign, rows);
          expect(res.enqueued).toBe(expected.valid.size);
          expect(res.duplicates).toBe(expected.dups);
          expect(res.rejected.map((r) => r.line)).toEqual(expected.rejected);
          for (const r of res.rejected) {
            expect(r.errors.length).toBeGreaterThan(0);
            for (const e of r.errors) expect(e.field.length + e.rule.length).toBeGreaterThan(2);
          }
          // Nothing half-written: the queue holds exactly the valid messages, counted once.
          const { queue } = await producer.connection();
          for (const id of expected.valid)
            expect((await queue.getJob(`m${id}`))?.data.campaign).toBe(campaign);
          const counts = await producer.connection().then(({ store }) => store.counts(campaign));
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

  it('names the line of a broken CSV record and goes on with the next', async () => {
    const rows = await collect(
      'id,phone,text\n1,+380971234567,ok\n2,+380971234567,"unclosed\n3,+380971234567,after\n',
      'csv',
    );
    expect(rows[0]).toEqual({ line: 2, value: { id: '1', phone: '+380971234567', text: 'ok' } });
    // An unclosed quote runs to the end of the file: the rest is one bad record, reported.
    expect(rows[1]).toEqual({ line: 4, error: expect.stringContaining('Quote Not Closed') });
    expect(rows).toHaveLength(2);
  });
});
