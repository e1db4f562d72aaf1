import type { Command } from 'commander';
import { readEnv } from '../env.js';
import { intArg } from '../util.js';

export function dashboardCommand(program: Command): void {
  program
    .command('dashboard')
    .description(
      'serve the campaign console (/) and bull-board (/queues); with DASHBOARD_USER and DASHBOARD_PASSWORD: basic auth and the console controls; without: read-only, loopback only',
    )
    .option('--port <n>', 'port (0: any free one)', intArg(0, 65535), 3000)
    .option('--host <host>', 'address to listen on (not loopback: needs basic auth)', '127.0.0.1')
    .option(
      '--allowed-host <names>',
      'comma-separated Host names it answers to besides its address (name or name:port)',
    )
    .option('--queues <names>', 'comma-separated queues to show (default: VIBER_QUEUE)')
    .action(
      async (flags: { port: number; host: string; queues?: string; allowedHost?: string }) => {
        const env = readEnv();
        const user = process.env['DASHBOARD_USER'] || undefined;
        const password = process.env['DASHBOARD_PASSWORD'] || undefined;
        // Loaded on demand: express and bull-board are heavy for every other command's start-up.
        const { startDashboard } = await import('../../dashboard/server.js');
        let lastError: string | undefined;
        const dashboard = await startDashboard({
          connection: env.redisUrl,
          queueNames: flags.queues ? flags.queues.split(',').map((q) => q.trim()) : [env.queueName],
          port: flags.port,
          host: flags.host,
          allowedHosts: flags.allowedHost ? flags.allowedHost.split(',').map((h) => h.trim()) : [],
          user,
          password,
          // One line per distinct error, not a stack a second while Redis is down.
          onError: (err) => {
            if (err.message === lastError) return;
            lastError = err.message;
            process.stderr.write(`dashboard: Redis error: ${err.message}\n`);
          },
        });
        process.stdout.write(`dashboard at ${dashboard.url}${user ? ' (basic auth)' : ''}\n`);
        await new Promise<void>((resolve) => {
          process.once('SIGTERM', resolve);
          process.once('SIGINT', resolve);
        });
        await dashboard.close();
      },
    );
}
