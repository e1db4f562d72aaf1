/** Runs the built CLI to its end as a user would (`node dist/cli/main.js …`). */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { redisEnv, within } from './helpers.js';

export const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * One CLI command with `stdin` as its input; one that has not ended after `timeoutMs` is killed
 * and the call fails, naming the command.
 */
export function runCli(
  args: string[],
  env: Record<string, string>,
  stdin = '',
  timeoutMs = 30_000,
): Promise<CliRun> {
  const child = spawn(process.execPath, [CLI, ...args], {
    // The tests' Redis, a cluster's seed nodes included (npm run test:cluster).
    env: { ...process.env, ...redisEnv(), ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(stdin);
  const ended = new Promise<CliRun>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return within(ended, timeoutMs, `viber-bulk ${args.join(' ')}`).catch((err: Error) => {
    child.kill('SIGKILL');
    throw err;
  });
}
