/**
 * Reading campaign files a row at a time: CSV with a header (csv-parse) or NDJSON. A row that
 * cannot be read becomes an `InputRow` with an `error` and the reading goes on; a file that cannot
 * be read at all (bad header) throws INVALID_INPUT before any row is enqueued.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { InvalidInputError } from '../errors.js';
import type { InputRow } from './producer.js';

export type InputFormat = 'csv' | 'ndjson';

export const CSV_COLUMNS = [
  'id',
  'phone',
  'sender',
  'text',
  'image',
  'type',
  'button',
  'url',
] as const;
const REQUIRED = ['id', 'phone'];

/** csv for anything but .ndjson / .jsonl. */
export function formatOf(path: string): InputFormat {
  return /\.(ndjson|jsonl)$/i.test(path) ? 'ndjson' : 'csv';
}

export function readRows(input: Readable, format: InputFormat): AsyncGenerator<InputRow> {
  return format === 'csv' ? readCsv(input) : readNdjson(input);
}

function checkHeader(header: string[]): string[] {
  const cols = header.map((h) => h.trim().toLowerCase());
  const missing = REQUIRED.filter((c) => !cols.includes(c));
  const unknown = cols.filter((c) => !(CSV_COLUMNS as readonly string[]).includes(c));
  if (missing.length > 0 || unknown.length > 0) {
    const parts = [];
    if (missing.length > 0) parts.push(`missing column(s) ${missing.join(', ')}`);
    if (unknown.length > 0) parts.push(`unknown column(s) ${unknown.join(', ')}`);
    throw new InvalidInputError(
      `CSV header: ${parts.join('; ')} (columns: ${CSV_COLUMNS.join(', ')}; id and phone required)`,
      1,
    );
  }
  return cols;
}

async function* readCsv(input: Readable): AsyncGenerator<InputRow> {
  const skipped: InputRow[] = [];
  const parser = input.pipe(
    parse({
      columns: checkHeader,
      bom: true,
      trim: false,
      relax_quotes: true,
      skip_empty_lines: true,
      skip_records_with_error: true,
      info: true,
      on_skip: (err) => {
        const e = err as { lines?: number; message?: string } | undefined;
        skipped.push({ line: e?.lines ?? 0, error: e?.message ?? 'unreadable CSV record' });
      },
    }),
  );
  // A header error is thrown by the parser itself; pass ours through untouched.
  input.on('error', (err) => parser.destroy(err));
  try {
    for await (const rec of parser as AsyncIterable<{
      record: Record<string, string>;
      info: { lines: number };
    }>) {
      // Keep file order: a skipped record may be reported before the records above it arrive.
      while (skipped.length > 0 && (skipped[0] as InputRow).line < rec.info.lines) {
        yield skipped.shift() as InputRow;
      }
      yield { line: rec.info.lines, value: rec.record };
    }
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof InvalidInputError) throw cause;
    if (err instanceof InvalidInputError) throw err;
    throw new InvalidInputError(`cannot read CSV: ${(err as Error).message}`, undefined, {
      cause: err,
    });
  }
  yield* skipped;
}

async function* readNdjson(input: Readable): AsyncGenerator<InputRow> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    try {
      yield { line, value: JSON.parse(text) as unknown };
    } catch (err) {
      yield { line, error: `not valid JSON: ${(err as Error).message}` };
    }
  }
}
