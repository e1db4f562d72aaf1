import type { Command } from 'commander';
import { readEnv, requireApiKey } from '../env.js';

export function balanceCommand(program: Command): void {
  program
    .command('balance')
    .description(
      "the gateway account's balance (<balance>), from ALPHASMS_URL with ALPHASMS_API_KEY",
    )
    .option('--json', 'print {"amount","currency"}')
    .action(async (flags: { json?: boolean }) => {
      const env = readEnv();
      const apiKey = requireApiKey(env);
      const { GatewayClient } = await import('../../gateway/client.js'); // undici on demand
      const gateway = new GatewayClient({ url: env.gatewayUrl, apiKey });
      try {
        const b = await gateway.balance();
        process.stdout.write(
          flags.json
            ? JSON.stringify({ amount: b.amount, currency: b.currency }) + '\n'
            : `balance: ${b.amount} ${b.currency}\n`,
        );
      } finally {
        await gateway.close();
      }
    });
}
