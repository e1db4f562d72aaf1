import type { Command } from 'commander';
import { InvalidOptionError } from '../../errors.js';
import { Inspector, type MessageResult } from '../../inspect/inspector.js';
import { readEnv } from '../env.js';
import { knownCampaign } from './status.js';
import { printable, stdoutGone, writeLine } from '../util.js';

const COLUMNS = [
  'id',
  'phone',
  'state',
  'msgId',
  'statusCode',
  'status',
  'attempts',
  'error',
  'deliveryCode',
  'delivery',
  'deliveredAt',
  'readAt',
] as const;

/** The SMS fallback's cells of a CSV row: its gateway id, its state, its delivery's name. */
const SMS_COLUMNS = ['sms_msg_id', 'sms_status', 'sms_delivery'] as const;
const smsCells = (r: MessageResult): Array<string | number | null> => [
  r.sms?.msgId ?? null,
  r.sms?.state ?? null,
  r.sms?.delivery ?? null,
];

export function resultsCommand(program: Command): void {
  program
    .command('results')
    .description('one row per message of a campaign, streamed')
    .requiredOption('--campaign <name>', 'campaign name')
    .option('--format <format>', 'ndjson|csv', 'ndjson')
    .option(
      '--raw',
      'CSV cells exactly as stored: no spreadsheet-formula guard, control characters not escaped',
    )
    .action(async (flags: { campaign: string; format: string; raw?: boolean }) => {
      if (flags.format !== 'ndjson' && flags.format !== 'csv') {
        throw new InvalidOptionError(`--format must be ndjson or csv (got ${flags.format})`);
      }
      const env = readEnv();
      const { stringify } = await import('csv-stringify/sync');
      const inspector = new Inspector({ connection: env.redisUrl, queueName: env.queueName });
      try {
        await knownCampaign(inspector, flags.campaign);
        // A cell of free text (an error's reason, which may quote the gateway) gets its control
        // characters escaped unless --raw: a CSV opened in a terminal shows no raw escapes.
        const row = (r: MessageResult) =>
          [...COLUMNS.map((k) => r[k]), ...smsCells(r)].map((v) =>
            flags.raw !== true && typeof v === 'string' ? printable(v) : v,
          );
        if (flags.format === 'csv')
          await writeLine(stringify([[...COLUMNS, ...SMS_COLUMNS]]).trimEnd());
        for await (const r of inspector.results(flags.campaign)) {
          const line =
            flags.format === 'csv'
              ? // A cell opening with = + - @ (a phone's +, or a text from the file or the
                // gateway) is quoted with a leading ' so a spreadsheet shows it, not runs it.
                stringify([row(r)], { escape_formulas: flags.raw !== true }).trimEnd()
              : JSON.stringify({
                  ...Object.fromEntries(COLUMNS.map((k) => [k, r[k]])),
                  sms: r.sms,
                });
          await writeLine(line);
          if (stdoutGone()) break;
        }
      } finally {
        await inspector.close();
      }
    });
}
