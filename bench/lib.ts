/** Helpers of the benchmark: queues, child processes, timing, RSS sampling. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { ViberMessage } from '../src/message.js';
import { Producer } from '../src/producer/producer.js';
import { deleteQueueKeys } from '../src/redis.js';

/** One row of the benchmark table. */
export interface Row {
  what: string;
  ours: string;
  baseline: string;
  ratio: string;
  target: string;
  /** null: a reference row, with no target. */
  ok: boolean | null;
}

export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
export const RAW_WORKER = fileURLToPath(new URL('./raw-worker.js', import.meta.url));
export const RAW_ENQUEUE = fileURLToPath(new URL('./raw-enqueue.js', import.meta.url));
export const CEILING = fileURLToPath(new URL('./ceiling.js', import.meta.url));

export function message(id: number): ViberMessage {
  return {
    id,
    phone: `+38097${String(id % 10_000_000).padStart(7, '0')}`,
    sender: 'SMSTest',
    type: 'image',
    text: `Знижка 20% на все — лише сьогодні! Замовлення #${id} 🎉`,
    image: 'https://example.com/img/promo.png',
  };
}

/** Enqueues messages 1..n through our Producer, as campaign `bench`. */
export async function enqueueOurs(queueName: string, n: number): Promise<void> {
  const producer = new Producer({ connection: REDIS_URL, queueName });
  await producer.enqueue(
    'bench',
    (function* () {
      for (let id = 1; id <= n; id++) yield message(id);
    })(),
  );
  await producer.close();
}

export async function dropQueue(queueName: string): Promise<void> {
  await deleteQueueKeys(REDIS_URL, queueName);
}

export interface Child {
  proc: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

export function run(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Child {
  const proc = spawn(process.execPath, [...nodeArgs, script, ...args], {
    env: { ...process.env, REDIS_URL, LOG_FORMAT: 'json', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => resolve(code)),
  );
  return { proc, exited, output: () => out };
}

export async function stop(child: Child): Promise<void> {
  if (child.proc.exitCode === null) child.proc.kill('SIGTERM');
  await child.exited;
}

/**
 * Memory of a live process from /proc, bytes: `VmRSS` (resident now) or `VmHWM` (the peak of
 * resident so far).
 */
export function rss(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1];
  return Number(kb ?? 0) * 1024;
}

/** CPU seconds (user + system) a live process has used, from /proc. */
export function cpuSeconds(pid: number): number {
  // Fields after the command name; utime and stime are the 14th and 15th of the whole line.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export async function until(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs: number,
  everyMs = 50,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Messages sent on a queue: our campaigns' completed counts (workers remove completed jobs but the
 * newest 1,000), or BullMQ's completed set for the raw baselines.
 */
export async function completedCount(queueName: string, r: Redis): Promise<number> {
  const base = `bull:${queueName}:`;
  let ours = 0;
  for (const c of await r.zrange(`${base}vb:campaigns`, 0, -1))
    ours += Number((await r.hget(`${base}vb:c:${c}:counts`, 'completed')) ?? 0);
  return Math.max(ours, await r.zcard(`${base}completed`));
}

/** Waits until `n` messages of the queue are sent (completedCount), for up to 10 minutes. */
export function untilSent(queueName: string, r: Redis, n: number): Promise<void> {
  return until(
    async () => (await completedCount(queueName, r)) >= n,
    `${queueName} sent`,
    600_000,
    100,
  );
}

/**
 * Redis's `used_memory`, once nothing is being freed in the background: a queue dropped with
 * UNLINK frees its big hashes (the queued data, the records) in a lazyfree thread, and a reading
 * taken meanwhile would credit that to whatever is measured next.
 */
export async function usedMemory(redis: Redis): Promise<number> {
  for (let i = 0; i < 600; i++) {
    const info = await redis.info('memory');
    if (Number(/lazyfree_pending_objects:(\d+)/.exec(info)?.[1] ?? 0) === 0)
      return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('Redis is still freeing memory after 30 s');
}

export const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
