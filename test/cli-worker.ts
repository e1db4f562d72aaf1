/** `viber-bulk worker` in a child process, as an operator runs it (`node <bin>`, not npx). */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Rig } from './fixture.js';
import { redisEnv, TEST_REDIS, within } from './helpers.js';

export const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

export interface CliWorker {
  child: ChildProcess;
  /** Resolves when it exits; fails after `ms` (a hung shutdown fails its test). */
  exited(ms?: number): Promise<{ code: number | null; at: number }>;
  logs(): string;
  /** Its pino lines with this `msg`, parsed. */
  lines(msg: string): Array<Record<string, unknown> & { time: number }>;
}

/** Every worker child started: killAllCliWorkers() ends whatever a failed test left alive. */
const children = new Set<ChildProcess>();

export function startCliWorker(
  rig: Rig,
  args: string[] = [],
  redisUrl = TEST_REDIS,
  env: Record<string, string> = {},
): CliWorker {
  const child = spawn(
    process.execPath,
    [CLI, 'worker', '--batch-size', '20', '--linger-ms', '20', ...args],
    {
      env: {
        ...process.env,
        ...redisEnv(redisUrl),
        VIBER_QUEUE: rig.queueName,
        ALPHASMS_URL: rig.sandbox.url,
        ALPHASMS_API_KEY: rig.apiKey,
        LOG_LEVEL: 'debug',
        LOG_FORMAT: 'json',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.add(child);
  let logs = '';
  child.stdout?.on('data', (d: Buffer) => (logs += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (logs += d.toString()));
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.once('exit', (code) => resolve({ code, at: Date.now() })),
  );
  return {
    child,
    // A worker that does not exit says where it stopped: its last log lines are in the error.
    exited: (ms = 15_000) =>
      within(exited, ms, 'the worker to exit').catch((err: Error) => {
        const tail = logs.trimEnd().split('\n').slice(-15).join('\n');
        throw new Error(`${err.message} (pid ${child.pid}); its last log lines:\n${tail}`);
      }),
    logs: () => logs,
    lines: (msg) =>
      logs
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown> & { time: number })
        .filter((l) => l['msg'] === msg),
  };
}

/** SIGKILL to every worker child still alive (teardown). */
export function killAllCliWorkers(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
}
