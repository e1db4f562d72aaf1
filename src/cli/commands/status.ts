import type { Command } from 'commander';
import { Inspector } from '../../inspect/inspector.js';
import { STATE_NAMES } from '../../campaign/state.js';
import { codeName } from '../../xml/codes.js';
import { readEnv } from '../env.js';

export function statusCommand(program: Command): void {
  program
    .command('status')
    .description("a campaign's counts by state and by gateway status code")
    .requiredOption('--campaign <name>', 'campaign name')
    .option('--json', 'print one JSON line')
    .action(async (flags: { campaign: string; json?: boolean }) => {
      const env = readEnv();
      const inspector = new Inspector({ connection: env.redisUrl, queueName: env.queueName });
      try {
        const c = await inspector.counts(flags.campaign);
        if (flags.json) {
          const { campaign, total, byStatus } = c;
          const states = Object.fromEntries(STATE_NAMES.map((s) => [s, c[s]]));
          process.stdout.write(JSON.stringify({ campaign, total, ...states, byStatus }) + '\n');
          return;
        }
        const lines = [`campaign ${c.campaign}: ${c.total} messages`];
        for (const s of STATE_NAMES) lines.push(`  ${s.padEnd(10)} ${c[s]}`);
        for (const [code, n] of Object.entries(c.byStatus)) {
          lines.push(
            `  code ${code.padEnd(5)} ${codeName('message', Number(code)).padEnd(16)} ${n}`,
          );
        }
        process.stdout.write(lines.join('\n') + '\n');
      } finally {
        await inspector.close();
      }
    });
}
