import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import type { Command } from 'commander';
import { formatOf, MAX_ROW_CHARS, readRows, type InputFormat } from '../../producer/input.js';
import { placeholderColumns } from '../../producer/template.js';
import { MESSAGE_TYPES, type MessageType } from '../../message.js';
import { SMS_MAX_SEGMENTS } from '../../fallback.js';
import type { SmsFallbackReport } from '../../producer/report.js';
import type { MessageDefaults } from '../../producer/validate.js';
import { InvalidOptionError } from '../../errors.js';
import { readEnv } from '../env.js';
import { addTimingFlags, timingFromFlags, type TimingFlags } from '../timing-flags.js';
import { EXIT, intArg, printable } from '../util.js';
import { EnqueueProgressView } from '../progress.js';

/** Duplicates the human report names, one line each (--json lists up to maxReportedRejects). */
const SHOWN_DUPLICATES = 20;

interface EnqueueFlags extends TimingFlags {
  campaign: string;
  file: string;
  sender?: string;
  text?: string;
  image?: string;
  type?: string;
  button?: string;
  url?: string;
  smsText?: string;
  smsSender?: string;
  smsMaxSegments?: number;
  format?: string;
  country: string;
  maxRowChars: number;
  dryRun?: boolean;
  json?: boolean;
}

export function enqueueCommand(program: Command): void {
  const cmd = program
    .command('enqueue')
    .description('validate a CSV or NDJSON file and enqueue its messages for a campaign')
    .requiredOption('--campaign <name>', 'campaign name')
    .requiredOption(
      '--file <path>',
      'CSV with header (id,phone required) or .ndjson/.jsonl; - for stdin',
    )
    .option('--sender <name>', 'sender for rows without one')
    .option('--text <text>', 'text for rows without one; {{column}} is filled from each row')
    .option('--image <url>', 'image URL for rows without one')
    .option(
      '--type <type>',
      `message type for rows without one: ${MESSAGE_TYPES.join('|')} (default: image when an image is given, else text)`,
    )
    .option('--button <caption>', 'button caption for rows without one')
    .option('--url <url>', 'button URL for rows without one; {{column}} is filled from each row')
    .option(
      '--sms-text <text>',
      'SMS sent when Viber cannot deliver a message, for rows without sms_text; {{column}} is filled from each row',
    )
    .option(
      '--sms-sender <name>',
      "the SMS's alpha name for rows without sms_sender (default: the sender)",
    )
    .option(
      '--sms-max-segments <n>',
      'most SMS segments a fallback text may take; a longer one is a rejected row',
      intArg(1, 100),
      SMS_MAX_SEGMENTS,
    )
    .option('--format <format>', 'csv|ndjson (default: from the file name; csv for stdin)')
    .option(
      '--country <code>',
      'country of phone numbers written without +country code (ISO 3166-1, e.g. UA, PL)',
      'UA',
    )
    .option(
      '--max-row-chars <n>',
      'longest row read: a longer NDJSON line is rejected and the rest read; a longer CSV record ends the file',
      intArg(1, 1_000_000_000),
      MAX_ROW_CHARS,
    )
    .option(
      '--dry-run',
      'validate and report every row as enqueue would (new, duplicate, rejected); write nothing',
    )
    .option(
      '--json',
      'end with one JSON line: {campaign, dryRun, enqueued, suppressed, duplicates, duplicateRows, phonesRewritten, sms, rejected}',
    );
  addTimingFlags(cmd, false).action(async (flags: EnqueueFlags) => {
    process.exitCode = await enqueue(flags);
  });
}

async function enqueue(flags: EnqueueFlags): Promise<number> {
  const env = readEnv();
  let format: InputFormat = flags.file === '-' ? 'csv' : formatOf(flags.file);
  if (flags.format !== undefined) {
    if (flags.format !== 'csv' && flags.format !== 'ndjson') {
      throw new InvalidOptionError(`--format must be csv or ndjson (got ${flags.format})`);
    }
    format = flags.format;
  }
  if (flags.type !== undefined && !(MESSAGE_TYPES as readonly string[]).includes(flags.type)) {
    throw new InvalidOptionError(
      `--type must be one of ${MESSAGE_TYPES.join(', ')} (got ${flags.type})`,
    );
  }
  const defaults: MessageDefaults = {};
  if (flags.sender !== undefined) defaults.sender = flags.sender;
  if (flags.text !== undefined) defaults.text = flags.text;
  if (flags.image !== undefined) defaults.image = flags.image;
  if (flags.button !== undefined) defaults.button = flags.button;
  if (flags.url !== undefined) defaults.url = flags.url;
  if (flags.smsText !== undefined) defaults.smsText = flags.smsText;
  if (flags.smsSender !== undefined) defaults.smsSender = flags.smsSender;
  defaults.type = (flags.type as MessageType | undefined) ?? (flags.image ? 'image' : 'text');

  const timing = timingFromFlags(flags, false);
  // Fail on an unreadable file before touching Redis.
  let size = 0;
  if (flags.file !== '-') {
    const st = await stat(flags.file).catch((err: Error) => {
      throw new InvalidOptionError(`--file ${flags.file}: ${err.message}`);
    });
    if (!st.isFile()) throw new InvalidOptionError(`--file ${flags.file}: not a regular file`);
    size = st.size;
  }
  const progress = new EnqueueProgressView(size);
  // Count bytes on their way to the parser (a 'data' listener would start the flow early).
  const input = (flags.file === '-' ? process.stdin : createReadStream(flags.file)).pipe(
    new Transform({
      transform(chunk: Buffer, _enc, done) {
        progress.read(chunk.length);
        done(null, chunk);
      },
    }),
  );

  // Loaded here: validation (zod, libphonenumber) is enqueue's, and a worker process never needs it.
  const { Producer } = await import('../../producer/producer.js');
  const producer = new Producer({
    connection: env.redisUrl,
    queueName: env.queueName,
    country: flags.country,
    limits: { smsMaxSegments: flags.smsMaxSegments },
  });
  try {
    const res = await producer.enqueueRows(
      flags.campaign,
      readRows(input, format, flags.maxRowChars, [
        ...placeholderColumns(flags.text),
        ...placeholderColumns(flags.url),
        ...placeholderColumns(flags.smsText),
      ]),
      {
        defaults,
        ...timing,
        dryRun: flags.dryRun === true,
        onProgress: (p) => progress.update(p),
      },
    );
    progress.end();
    const out = flags.json ? process.stderr : process.stdout;
    for (const r of res.rejected) {
      const problems = r.errors.map((e) => `${e.field}: ${e.rule}`).join('; ');
      const id = r.id !== undefined ? ` (id ${String(r.id)})` : '';
      out.write(printable(`rejected line ${r.line}${id}: ${problems}`) + '\n');
    }
    if (res.rejectedCount > res.rejected.length) {
      out.write(`… and ${res.rejectedCount - res.rejected.length} more rejected rows\n`);
    }
    const dups = res.duplicateRows.slice(0, SHOWN_DUPLICATES);
    for (const d of dups) {
      const of = d.of === 'input' ? 'an earlier row has it' : 'already on this queue';
      out.write(`duplicate line ${d.line} (id ${d.id}): ${of}\n`);
    }
    if (res.duplicates > dups.length) {
      out.write(`… and ${res.duplicates - dups.length} more duplicates (--json lists them)\n`);
    }
    const verb = res.dryRun ? 'would be enqueued (dry run: nothing written)' : 'enqueued';
    out.write(
      `campaign ${res.campaign}: ${res.enqueued} ${verb}, ${res.duplicates} duplicate, ${res.rejectedCount} rejected` +
        (res.suppressed > 0 ? `, ${res.suppressed} suppressed (never sent)` : '') +
        (res.phonesRewritten > 0
          ? ` (${res.phonesRewritten} phone numbers rewritten to international form)`
          : '') +
        '\n',
    );
    if (res.sms.messages > 0) out.write(fallbackLine(res.sms, res.dryRun) + '\n');
    if (flags.json) {
      process.stdout.write(
        JSON.stringify({
          campaign: res.campaign,
          dryRun: res.dryRun,
          enqueued: res.enqueued,
          suppressed: res.suppressed,
          duplicates: res.duplicates,
          duplicateRows: res.duplicateRows,
          phonesRewritten: res.phonesRewritten,
          sms: res.sms,
          rejected: res.rejected.map((r) => ({ line: r.line, id: r.id ?? null, errors: r.errors })),
        }) + '\n',
      );
    }
    return res.rejectedCount > 0 ? EXIT.rejected : EXIT.ok;
  } finally {
    await producer.close();
  }
}

/** `SMS fallback: 1200 messages carry one, 1 segment × 1000, 2 segments × 200 (1400 segments if every one is sent)`. */
function fallbackLine(sms: SmsFallbackReport, dryRun: boolean): string {
  const by = Object.entries(sms.bySegments)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([n, m]) => `${n} segment${n === '1' ? '' : 's'} × ${m}`)
    .join(', ');
  const verb = dryRun ? 'would carry' : 'carry';
  return `SMS fallback: ${sms.messages} messages ${verb} one, ${by} (${sms.segments} segments if every one is sent)`;
}
