import type { Command } from 'commander';
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
    .action(
      async (flags: {
        port: number;
        host: string;
        apiKey: string;
        latencyMs: number;
        rate: number;
      }) => {
        const { SandboxGateway } = await import('../../sandbox/server.js');
        const sandbox = new SandboxGateway({
          port: flags.port,
          host: flags.host,
          apiKey: flags.apiKey,
          latencyMs: flags.latencyMs,
          rate: flags.rate,
          keepMessages: false,
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
