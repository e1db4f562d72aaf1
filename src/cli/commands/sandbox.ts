import type { Command } from 'commander';
import { InvalidOptionError } from '../../errors.js';
import { intArg } from '../util.js';

export function sandboxCommand(program: Command): void {
  program
    .command('sandbox')
    .description('run the sandbox gateway (speaks the AlphaSMS XML protocol) until SIGTERM/SIGINT')
    .option('--port <n>', 'port (0: any free one)', intArg(0, 65535), 8080)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--api-key <key>', 'the API key it accepts', 'sandbox-key')
    .option('--latency-ms <n>', 'delay before each answer', intArg(0, 600_000), 0)
    .option(
      '--rate <n>',
      'messages/s it accepts before answering 212 (0: no limit)',
      intArg(0, 1_000_000),
      0,
    )
    .option(
      '--delivery <mix>',
      'final delivery codes and their shares after acceptance',
      '102=0.85,105=0.05,103=0.05,108=0.05',
    )
    .option('--delivery-delay-ms <range>', 'from acceptance to the final code, ms', '2000-30000')
    .option('--read-share <share>', 'share of delivered messages that are read (116)', '0.4')
    .option('--read-delay-ms <range>', 'from delivery to reading, ms', '5000-60000')
    .option('--seed <n>', 'the same seed gives every message the same fate', intArg(0, 2 ** 31), 1)
    .option('--balance <amount>', 'the account balance it answers to <balance>', '1000')
    .option(
      '--phones-without-viber',
      'numbers ending in 0 have no Viber: Viber messages to them end 105 UNDELIVERABLE (SMS arrive)',
    )
    .action(
      async (flags: {
        port: number;
        host: string;
        apiKey: string;
        latencyMs: number;
        rate: number;
        delivery: string;
        deliveryDelayMs: string;
        readShare: string;
        readDelayMs: string;
        seed: number;
        balance: string;
        phonesWithoutViber?: boolean;
      }) => {
        const { SandboxGateway, phoneWithoutViber } = await import('../../sandbox/server.js');
        const { parseOutcomes, parseRange } = await import('../../sandbox/delivery.js');
        const readShare = Number(flags.readShare);
        if (!(readShare >= 0 && readShare <= 1)) {
          throw new InvalidOptionError(`--read-share must be 0..1 (got ${flags.readShare})`);
        }
        const balance = Number(flags.balance);
        if (!Number.isFinite(balance)) {
          throw new InvalidOptionError(`--balance must be a number (got ${flags.balance})`);
        }
        const sandbox = new SandboxGateway({
          port: flags.port,
          host: flags.host,
          apiKey: flags.apiKey,
          latencyMs: flags.latencyMs,
          rate: flags.rate,
          keepMessages: false,
          balance,
          withoutViber: flags.phonesWithoutViber ? phoneWithoutViber : undefined,
          delivery: {
            outcomes: parseOutcomes(flags.delivery),
            delayMs: parseRange(flags.deliveryDelayMs, '--delivery-delay-ms'),
            readShare,
            readDelayMs: parseRange(flags.readDelayMs, '--read-delay-ms'),
            seed: flags.seed,
          },
        });
        const url = await sandbox.start();
        process.stdout.write(`sandbox gateway listening at ${url}\n`);
        await new Promise<void>((resolve) => {
          process.once('SIGTERM', resolve);
          process.once('SIGINT', resolve);
        });
        await sandbox.close();
        process.stdout.write(
          `sandbox stopped: ${sandbox.stats.accepted} accepted, ${sandbox.stats.duplicates} duplicates, ${sandbox.stats.rejected} rejected\n`,
        );
      },
    );
}
