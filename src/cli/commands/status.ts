import type { Command } from 'commander';
import { InvalidOptionError } from '../../errors.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { STATE_NAMES } from '../../campaign/state.js';
import { endedOf, type CampaignCounts } from '../../campaign/counts.js';
import { Inspector } from '../../inspect/inspector.js';
import { codeName } from '../../xml/codes.js';
import { readEnv } from '../env.js';
import { funnel } from '../funnel.js';
import { bar } from '../progress.js';
import { describeSchedule } from '../timing-flags.js';
import { stdoutGone } from '../util.js';

/** The JSON shape of one campaign's counts (status --json, campaigns --json). */
export function countsJson(c: CampaignCounts): Record<string, unknown> {
  const states = Object.fromEntries(STATE_NAMES.map((s) => [s, c[s]]));
  return {
    campaign: c.campaign,
    total: c.total,
    ...states,
    scheduled: c.scheduled,
    control: c.control,
    schedule: c.schedule,
    opensAt: iso(c.opensAt),
    byStatus: c.byStatus,
    delivery: { ...c.delivery, until: iso(c.delivery.until) },
    sms: c.sms,
  };
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function describe(c: CampaignCounts): string[] {
  const lines = [
    `campaign ${c.campaign}: ${c.total} messages${c.control ? ` (${c.control})` : ''}`,
    `  ${describeSchedule(c.schedule)}`,
  ];
  if (c.opensAt !== null) {
    lines.push(`  held by its start time or window until ${new Date(c.opensAt).toISOString()}`);
  }
  if (c.scheduled > 0) lines.push(`  ${'scheduled'.padEnd(10)} ${c.scheduled}`);
  for (const s of STATE_NAMES)
    if (c[s] > 0 || (s !== 'paused' && s !== 'cancelled' && s !== 'expired'))
      lines.push(`  ${s.padEnd(10)} ${c[s]}`);
  for (const [code, n] of Object.entries(c.byStatus)) {
    lines.push(`  code ${code.padEnd(5)} ${codeName('message', Number(code)).padEnd(16)} ${n}`);
  }
  return [...lines, ...funnel(c)];
}

async function watch(inspector: Inspector, campaign: string): Promise<void> {
  const tty = process.stdout.isTTY;
  let stop = false;
  process.once('SIGINT', () => (stop = true));
  let drawn = 0;
  let prev: { at: number; done: number } | undefined;
  let rate = 0;
  while (!stop && !stdoutGone()) {
    const c = await inspector.counts(campaign);
    const now = Date.now();
    const done = endedOf(c);
    if (prev && now > prev.at) rate = Math.round(((done - prev.done) * 1000) / (now - prev.at));
    prev = { at: now, done };
    const lines = [`${bar(done, c.total)} ${done}/${c.total}  ${rate} msg/s`, ...describe(c)];
    if (tty) {
      // Redraw in place: up to the first line drawn last time, clear to the end of the screen.
      if (drawn > 0) process.stdout.write(`\x1b[${drawn}A\x1b[0J`);
      process.stdout.write(lines.join('\n') + '\n');
      drawn = lines.length;
    } else {
      process.stdout.write(`${lines[0]}  ${STATE_NAMES.map((s) => `${s}=${c[s]}`).join(' ')}\n`);
    }
    if (c.total > 0 && done >= c.total) break;
    await sleep(tty ? 500 : 2000);
  }
}

/** Refuses a campaign the queue has no message of, with the controls' words for it. */
export async function knownCampaign(
  inspector: Inspector,
  campaign: string,
): Promise<CampaignCounts> {
  const c = await inspector.counts(campaign);
  if (c.total === 0)
    throw new InvalidOptionError(`campaign ${campaign} has no messages on this queue`);
  return c;
}

export function statusCommands(program: Command): void {
  program
    .command('status')
    .description("a campaign's counts by state and by gateway status code")
    .requiredOption('--campaign <name>', 'campaign name')
    .option('--json', 'print one JSON line')
    .option('--watch', 'a live view until the campaign is done (Ctrl-C to leave)')
    .action(async (flags: { campaign: string; json?: boolean; watch?: boolean }) => {
      const env = readEnv();
      const inspector = new Inspector({ connection: env.redisUrl, queueName: env.queueName });
      try {
        // An unknown campaign is a usage error (exit 2), as it is for pause and the others.
        let c = await knownCampaign(inspector, flags.campaign);
        if (flags.watch) {
          await watch(inspector, flags.campaign);
          c = await inspector.counts(flags.campaign);
        }
        if (flags.json) process.stdout.write(JSON.stringify(countsJson(c)) + '\n');
        else if (!flags.watch) process.stdout.write(describe(c).join('\n') + '\n');
      } finally {
        await inspector.close();
      }
    });

  program
    .command('campaigns')
    .description('the campaigns on the queue, with their counts')
    .option('--json', 'print one JSON line: an array of campaign counts')
    .action(async (flags: { json?: boolean }) => {
      const env = readEnv();
      const inspector = new Inspector({ connection: env.redisUrl, queueName: env.queueName });
      try {
        const all = await inspector.campaigns();
        if (flags.json) {
          process.stdout.write(JSON.stringify(all.map(countsJson)) + '\n');
          return;
        }
        if (all.length === 0) process.stdout.write('no campaigns on this queue\n');
        for (const c of all) {
          // Sent but still tracked: not done (purge refuses it, and says the same).
          const until = c.delivery.until;
          const state =
            c.control ??
            (endedOf(c) < c.total || c.sms.waiting > 0
              ? 'running'
              : c.delivery.tracking + c.sms.tracking > 0
                ? `tracking${until === null ? '' : ` until ${iso(until)}`}`
                : 'done');
          const sms = c.sms.total > 0 ? `  sms ${c.sms.sent}/${c.sms.total} sent` : '';
          process.stdout.write(
            `${c.campaign.padEnd(24)} ${String(c.total).padStart(9)} total ${String(c.completed).padStart(9)} completed ${String(c.failed).padStart(7)} failed  ${state.padEnd(9)} ${c.schedule.priority}${sms}\n`,
          );
        }
      } finally {
        await inspector.close();
      }
    });
}
