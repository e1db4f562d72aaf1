import type { Command } from 'commander';
import { InvalidOptionError } from '../../errors.js';
import { parseDuration } from '../util.js';
import {
  addTimingFlags,
  describeSchedule,
  timingFromFlags,
  type TimingFlags,
} from '../timing-flags.js';
import type { Producer } from '../../producer/producer.js';
import { readEnv } from '../env.js';

async function withProducer<T>(fn: (p: Producer) => Promise<T>): Promise<T> {
  const env = readEnv();
  // Loaded here: validation (zod, libphonenumber) is enqueue's, and a worker process never needs it.
  const { Producer } = await import('../../producer/producer.js');
  const producer = new Producer({ connection: env.redisUrl, queueName: env.queueName });
  try {
    return await fn(producer);
  } finally {
    await producer.close();
  }
}

/** A command's one answer: a JSON line with --json, else its sentence. */
function answer(json: boolean | undefined, value: object, text: string): void {
  process.stdout.write(json ? JSON.stringify(value) + '\n' : text + '\n');
}

function parseCodes(value: string): number[] {
  const codes = value.split(',').map((s) => s.trim());
  if (codes.some((c) => !/^\d{1,4}$/.test(c))) {
    throw new InvalidOptionError(
      `--codes must be status codes separated by commas, e.g. 206,207 (got ${value})`,
    );
  }
  return codes.map(Number);
}

export function controlCommands(program: Command): void {
  program
    .command('pause')
    .description(
      "stop sending a campaign's messages (other campaigns keep flowing); survives restarts",
    )
    .requiredOption('--campaign <name>', 'campaign name')
    .option('--json', 'print one JSON line: {campaign, paused}')
    .action(async (flags: { campaign: string; json?: boolean }) => {
      const paused = await withProducer((p) => p.pause(flags.campaign));
      answer(
        flags.json,
        { campaign: flags.campaign, paused },
        `campaign ${flags.campaign} paused (${paused} messages held)`,
      );
    });

  program
    .command('resume')
    .description('send a paused campaign again, from where it stopped')
    .requiredOption('--campaign <name>', 'campaign name')
    .option('--json', 'print one JSON line: {campaign, resumed}')
    .action(async (flags: { campaign: string; json?: boolean }) => {
      const resumed = await withProducer((p) => p.resume(flags.campaign));
      answer(
        flags.json,
        { campaign: flags.campaign, resumed },
        `campaign ${flags.campaign} resumed (${resumed} messages back in the queue)`,
      );
    });

  program
    .command('cancel')
    .description('cancel the messages of a campaign not sent yet; accepted ones stay accepted')
    .requiredOption('--campaign <name>', 'campaign name')
    .option('--json', 'print one JSON line: {campaign, cancelled}')
    .action(async (flags: { campaign: string; json?: boolean }) => {
      const cancelled = await withProducer((p) => p.cancel(flags.campaign));
      answer(
        flags.json,
        { campaign: flags.campaign, cancelled },
        `campaign ${flags.campaign}: ${cancelled} messages cancelled`,
      );
    });

  program
    .command('retry-failed')
    .description("queue a campaign's failed messages again, keeping their ids")
    .requiredOption('--campaign <name>', 'campaign name')
    .option(
      '--codes <codes>',
      'only those that failed with these status codes, e.g. 206,207',
      parseCodes,
    )
    .option('--json', 'print one JSON line: {campaign, retried}')
    .action(async (flags: { campaign: string; codes?: number[]; json?: boolean }) => {
      const retried = await withProducer((p) => p.retryFailed(flags.campaign, flags.codes));
      answer(
        flags.json,
        { campaign: flags.campaign, retried },
        `campaign ${flags.campaign}: ${retried} failed messages queued again`,
      );
    });

  const schedule = program
    .command('schedule')
    .description("change a live campaign's timing (every worker follows at once)")
    .requiredOption('--campaign <name>', 'campaign name')
    .option(
      '--json',
      'print one JSON line: {campaign, at, window, tz, expires, priority, weight, campaignRate}',
    );
  addTimingFlags(schedule, true).action(
    async (flags: TimingFlags & { campaign: string; json?: boolean }) => {
      const settings = timingFromFlags(flags, true);
      if (Object.keys(settings).length === 0) {
        throw new InvalidOptionError(
          'schedule needs at least one of --at, --window, --tz, --expires, --priority, --weight, --campaign-rate',
        );
      }
      const view = await withProducer((p) => p.schedule(flags.campaign, settings));
      answer(
        flags.json,
        { campaign: flags.campaign, ...view },
        `campaign ${flags.campaign}: ${describeSchedule(view)}`,
      );
    },
  );

  program
    .command('purge')
    .description(
      'remove a finished campaign from Redis (jobs, states, counts, tracking); export its results first',
    )
    .option('--campaign <name>', 'campaign name')
    .option(
      '--older-than <duration>',
      'instead of one campaign: every campaign finished longer ago than this (30d, 12h…)',
    )
    .option('--force', 'also when messages still wait or are tracked (it is cancelled first)')
    .option('--json', 'print one JSON line a campaign: {campaign, removed}')
    .action(
      async (flags: { campaign?: string; olderThan?: string; force?: boolean; json?: boolean }) => {
        if ((flags.campaign === undefined) === (flags.olderThan === undefined)) {
          throw new InvalidOptionError('purge needs --campaign <name> or --older-than <duration>');
        }
        const olderThan =
          flags.olderThan === undefined
            ? undefined
            : parseDuration(flags.olderThan, '--older-than');
        const campaign = flags.campaign;
        const purged = await withProducer(async (p) =>
          olderThan !== undefined
            ? p.purgeFinished(olderThan)
            : [
                {
                  campaign: campaign as string,
                  removed: await p.purge(campaign as string, { force: flags.force === true }),
                },
              ],
        );
        for (const { campaign: c, removed } of purged) {
          answer(
            flags.json,
            { campaign: c, removed },
            `campaign ${c}: ${removed} messages removed`,
          );
        }
        if (purged.length === 0 && !flags.json) process.stdout.write('no campaign to purge\n');
      },
    );
}
