/**
 * The `viber-bulk` command (entered through main.ts). The only module that parses process.argv
 * and sets exit codes: 0 done, 1 some rows rejected (enqueue) or a failure, 2 usage,
 * configuration or connection error, 3 worker halted by an account problem.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { balanceCommand } from './commands/balance.js';
import { enqueueCommand } from './commands/enqueue.js';
import { resultsCommand } from './commands/results.js';
import { sandboxCommand } from './commands/sandbox.js';
import { statusCommands } from './commands/status.js';
import { controlCommands } from './commands/control.js';
import { suppressCommands } from './commands/suppress.js';
import { webhooksCommand } from './commands/webhooks.js';
import { dashboardCommand } from './commands/dashboard.js';
import { workerCommand } from './commands/worker.js';
import { EXIT, printable, watchStdout } from './util.js';

const USAGE_CODES = new Set(['INVALID_OPTION', 'INVALID_INPUT', 'REDIS_UNAVAILABLE']);

// dist/cli/program.js and src/cli/program.ts both sit two levels below package.json.
const { version } = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string };

watchStdout();

const program = new Command('viber-bulk')
  .description('Bulk Viber messages through the AlphaSMS XML gateway, on a Redis queue')
  .version(version, '-V, --version', 'print the version of viber-bulk')
  .exitOverride();

enqueueCommand(program);
workerCommand(program);
statusCommands(program);
controlCommands(program);
suppressCommands(program);
webhooksCommand(program);
resultsCommand(program);
sandboxCommand(program);
dashboardCommand(program);
balanceCommand(program);

// A usage error prints the error and the command's one-line usage, not its whole help.
for (const cmd of program.commands) {
  const required = cmd.options.filter((o) => o.mandatory).map((o) => o.flags);
  const usage = ['viber-bulk', cmd.name(), ...required, '[options]'].join(' ');
  cmd.showHelpAfterError(`usage: ${usage}  (viber-bulk ${cmd.name()} --help lists them)`);
}
program.showHelpAfterError('usage: viber-bulk <command> [options]  (viber-bulk --help lists them)');

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version exit 0; anything else commander rejects is a usage error.
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    const code = (err as { code?: string }).code ?? '';
    process.stderr.write(`viber-bulk: ${printable((err as Error).message)}\n`);
    process.exitCode = USAGE_CODES.has(code) ? EXIT.usage : EXIT.failed;
  }
}
