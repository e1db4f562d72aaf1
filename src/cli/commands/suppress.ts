/**
 * `viber-bulk suppress add|remove|check|import|list`: the queue's suppression list, phones read
 * as enqueue reads them (`--country` for numbers without their country code).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { InvalidOptionError } from '../../errors.js';
import type { InvalidPhone, SuppressionList } from '../../producer/suppression.js';
import { readEnv } from '../env.js';
import { EXIT, printable } from '../util.js';

interface Flags {
  country: string;
  json?: boolean;
}

async function withList<T>(country: string, fn: (l: SuppressionList) => Promise<T>): Promise<T> {
  const env = readEnv();
  // Loaded here: phone parsing (libphonenumber) is the producer's; a worker never needs it.
  const { Producer } = await import('../../producer/producer.js');
  const producer = new Producer({ connection: env.redisUrl, queueName: env.queueName, country });
  try {
    return await fn(await producer.suppressions());
  } finally {
    await producer.close();
  }
}

/** Lists the phones that are not mobile numbers (the first 20) and sets exit code 1. */
function reportInvalid(invalid: InvalidPhone[], at?: (i: number) => string): void {
  if (invalid.length === 0) return;
  invalid.slice(0, 20).forEach((p, i) => {
    process.stderr.write(
      `not a mobile number${at ? ` (${at(i)})` : ''}: ${printable(p.phone.slice(0, 100))}: ${p.rule}\n`,
    );
  });
  if (invalid.length > 20) process.stderr.write(`… and ${invalid.length - 20} more\n`);
  process.exitCode = EXIT.rejected;
}

export function suppressCommands(program: Command): void {
  const cmd = program
    .command('suppress')
    .description('the suppression list: phones never messaged (one list per queue)');
  const common = (c: Command) =>
    c
      .option('--country <cc>', 'country of numbers written without +country code', 'UA')
      .option('--json', 'print one JSON line');

  for (const [verb, what] of [
    ['add', 'put phones on the list'],
    ['remove', 'take phones off the list'],
  ] as const) {
    common(cmd.command(`${verb} <phones...>`).description(what)).action(
      async (phones: string[], flags: Flags) => {
        const r = await withList(flags.country, (l) =>
          verb === 'add' ? l.add(phones) : l.remove(phones),
        );
        process.stdout.write(
          flags.json
            ? JSON.stringify(
                verb === 'add' ? { added: r.changed, ...r } : { removed: r.changed, ...r },
              ) + '\n'
            : `${r.changed} ${verb === 'add' ? 'added' : 'removed'}, ${r.unchanged} ${verb === 'add' ? 'already on the list' : 'not on the list'}, ${r.invalid.length} not mobile numbers\n`,
        );
        reportInvalid(r.invalid);
      },
    );
  }

  common(cmd.command('check <phones...>').description('whether each phone is on the list')).action(
    async (phones: string[], flags: Flags) => {
      const r = await withList(flags.country, (l) => l.check(phones));
      if (flags.json) process.stdout.write(JSON.stringify(r) + '\n');
      else
        for (const c of r)
          process.stdout.write(
            `${printable(c.phone)}\t${c.e164 ?? '-'}\t${c.e164 === null ? 'not a mobile number' : c.suppressed ? 'suppressed' : 'not suppressed'}\n`,
          );
    },
  );

  common(
    cmd
      .command('import')
      .description(
        'put every phone of a file on the list: one a line, or a CSV with a phone column',
      )
      .requiredOption('--file <path>', 'the file'),
  ).action(async (flags: Flags & { file: string }) => {
    const r = await withList(flags.country, (l) => importFile(l, flags.file));
    process.stdout.write(
      flags.json
        ? JSON.stringify({ added: r.added, unchanged: r.unchanged, invalid: r.invalid.length }) +
            '\n'
        : `${r.added} added, ${r.unchanged} already on the list, ${r.invalid.length} not mobile numbers\n`,
    );
    reportInvalid(
      r.invalid.map((x) => x.p),
      (i) => `line ${(r.invalid[i] as { line: number }).line}`,
    );
  });

  common(cmd.command('list').description('every phone on the list, one a line')).action(
    async (flags: Flags) => {
      await withList(flags.country, async (l) => {
        if (!flags.json) {
          for await (const page of l.list()) process.stdout.write(page.join('\n') + '\n');
          return;
        }
        const all: string[] = [];
        for await (const page of l.list()) all.push(...page);
        process.stdout.write(JSON.stringify(all.sort()) + '\n');
      });
    },
  );
}

/** Reads a file a line at a time and adds its phones a thousand at a time. */
async function importFile(
  list: SuppressionList,
  path: string,
): Promise<{
  added: number;
  unchanged: number;
  invalid: Array<{ line: number; p: InvalidPhone }>;
}> {
  const out = { added: 0, unchanged: 0, invalid: [] as Array<{ line: number; p: InvalidPhone }> };
  let column = -1;
  let lineNo = 0;
  let batch: Array<{ line: number; phone: string }> = [];
  const flush = async () => {
    const r = await list.add(batch.map((b) => b.phone));
    out.added += r.changed;
    out.unchanged += r.unchanged;
    for (const p of r.invalid) {
      const at = batch.find((b) => b.phone === p.phone);
      out.invalid.push({ line: at?.line ?? 0, p });
    }
    batch = [];
  };
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const raw of lines) {
    lineNo++;
    const line = lineNo === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (lineNo === 1 && /[a-z]/i.test(line) && line.includes(',')) {
      // A CSV header: the phone column.
      column = line
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .indexOf('phone');
      if (column === -1)
        throw new InvalidOptionError(
          `${path}: a CSV header needs a phone column (got ${printable(line.slice(0, 100))})`,
        );
      continue;
    }
    const phone = (column >= 0 ? (line.split(',')[column] ?? '') : line)
      .trim()
      .replace(/^"|"$/g, '');
    if (phone === '') continue;
    batch.push({ line: lineNo, phone });
    if (batch.length >= 1000) await flush();
  }
  await flush();
  return out;
}
