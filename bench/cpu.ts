/**
 * `npm run bench:cpu [-- --cpu-prof]`: where the CPU of a send goes, per process. Sends BENCH_N
 * messages (default 100,000) three ways against a sandbox gateway in its own process, interleaved
 * over BENCH_ROUNDS rounds (default 3):
 *   noop  BullMQ's no-op worker (the send benchmark's baseline; no sandbox traffic)
 *   floor the least a batching worker can do (raw-worker.ts `batch`)
 *   ours  `viber-bulk worker` with its defaults, plus any flags in BENCH_WORKER_ARGS
 * (BENCH_KINDS picks some of the three, comma-separated),
 * and prints, for each run, messages/s and the CPU seconds of the worker (/proc/<pid>/stat), of
 * Redis (INFO cpu: the whole server, so keep the machine otherwise quiet) and of the sandbox, and
 * the worker's peak RSS (VmHWM). With --cpu-prof, each worker and sandbox writes a V8 CPU profile
 * (open it in Chrome DevTools or speedscope) and the self time of the busiest packages is printed.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import {
  CLI,
  RAW_ENQUEUE,
  RAW_WORKER,
  REDIS_URL,
  completedCount,
  cpuSeconds,
  dropQueue,
  enqueueOurs,
  fmt,
  rss,
  run,
  stop,
  until,
  type Child,
} from './lib.js';

const N = Number(process.env['BENCH_N'] ?? 100_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const PROFILE = process.argv.includes('--cpu-prof');
const KEY = 'bench-key';
const PROFILES = fileURLToPath(new URL('../profiles/', import.meta.url));
const redis = new Redis(REDIS_URL);
type Kind = 'noop' | 'floor' | 'ours';
/** BENCH_KINDS: which of them to run (comma-separated; default all three). */
const KINDS = (process.env['BENCH_KINDS'] ?? 'noop,floor,ours').split(',') as Kind[];
/** BENCH_WORKER_ARGS: flags added to `viber-bulk worker` (space-separated), to compare settings. */
const WORKER_ARGS = (process.env['BENCH_WORKER_ARGS'] ?? '').split(' ').filter(Boolean);

async function redisCpu(): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return field('used_cpu_sys') + field('used_cpu_user');
}

async function enqueue(kind: Kind, queueName: string): Promise<void> {
  if (kind !== 'ours') {
    const child = run(RAW_ENQUEUE, [queueName, String(N)]);
    if ((await child.exited) !== 0) throw new Error(`raw enqueue failed: ${child.output()}`);
    return;
  }
  await enqueueOurs(queueName, N);
}

async function startSandbox(nodeArgs: string[]): Promise<{ child: Child; url: string }> {
  const child = run(CLI, ['sandbox', '--port', '0', '--api-key', KEY], {}, nodeArgs);
  await until(() => /listening at (\S+)/.test(child.output()), 'the sandbox to listen', 10_000);
  const url = /listening at (\S+)/.exec(child.output())?.[1] ?? '';
  return { child, url };
}

async function once(kind: Kind, round: number): Promise<string> {
  const queueName = `bench-cpu-${Date.now().toString(36)}-${kind}`;
  const prof = (role: string): string[] =>
    PROFILE
      ? [
          '--cpu-prof',
          '--cpu-prof-dir',
          PROFILES,
          '--cpu-prof-name',
          `${kind}-${round + 1}-${role}.cpuprofile`,
        ]
      : [];
  await enqueue(kind, queueName);
  const sandbox = await startSandbox(kind === 'noop' ? [] : prof('sandbox'));
  const nodeArgs = prof('worker');
  const sandboxCpu0 = cpuSeconds(sandbox.child.proc.pid ?? 0);
  const redisCpu0 = await redisCpu();
  const started = performance.now();
  const worker =
    kind === 'ours'
      ? run(
          CLI,
          ['worker', ...WORKER_ARGS],
          { VIBER_QUEUE: queueName, ALPHASMS_URL: sandbox.url, ALPHASMS_API_KEY: KEY },
          nodeArgs,
        )
      : run(
          RAW_WORKER,
          kind === 'noop' ? ['noop', queueName, '100'] : ['batch', queueName, '250', sandbox.url],
          { ALPHASMS_API_KEY: KEY },
          nodeArgs,
        );
  const pid = worker.proc.pid ?? 0;
  await until(
    async () => (await completedCount(queueName, redis)) >= N,
    `${kind} to send`,
    600_000,
  );
  const seconds = (performance.now() - started) / 1000;
  // Read before stopping it: /proc forgets a process once it exits.
  const workerCpu = cpuSeconds(pid);
  const peak = rss(pid, 'VmHWM');
  const redisUsed = (await redisCpu()) - redisCpu0;
  const sandboxUsed = cpuSeconds(sandbox.child.proc.pid ?? 0) - sandboxCpu0;
  await stop(worker);
  await stop(sandbox.child);
  await dropQueue(queueName);
  return `| ${kind} | ${round + 1} | ${fmt(N / seconds)} | ${workerCpu.toFixed(2)} s | ${redisUsed.toFixed(2)} s | ${kind === 'noop' ? '—' : `${sandboxUsed.toFixed(2)} s`} | ${fmt(peak / 2 ** 20)} MB |`;
}

/** Self time by package (or Node built-in) of one V8 CPU profile, busiest first. */
function byPackage(file: string, top: number): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: Array<{ id: number; callFrame: { url: string; functionName: string } }>;
    samples: number[];
    timeDeltas: number[];
  };
  const frames = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const f = frames.get(id);
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const url = f?.url ?? '';
    const name =
      /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ??
      (url.includes('/dist/') ? 'viber-bulk' : url.startsWith('node:') ? 'node' : '');
    const key = name || f?.functionName || '(native)';
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, t]) => `${k} ${((100 * t) / total).toFixed(1)}%`)
    .join(', ');
}

async function main(): Promise<void> {
  const lines = [
    `${fmt(N)} messages a run; CPU in seconds; Redis's is the whole server's`,
    '',
    '| worker | round | msg/s | worker CPU | Redis CPU | sandbox CPU | worker peak RSS |',
    '|---|---|---|---|---|---|---|',
  ];
  if (PROFILE) {
    rmSync(PROFILES, { recursive: true, force: true });
    mkdirSync(PROFILES, { recursive: true });
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of KINDS) {
      const line = await once(kind, round);
      process.stderr.write(line + '\n');
      lines.push(line);
    }
  }
  process.stdout.write('\n' + lines.join('\n') + '\n');
  if (PROFILE) {
    process.stdout.write(`\nCPU profiles in ${PROFILES} (self time, busiest first):\n`);
    for (const f of readdirSync(PROFILES)
      .filter((x) => x.endsWith('.cpuprofile'))
      .sort()) {
      process.stdout.write(`- ${f}: ${byPackage(join(PROFILES, f), 8)}\n`);
    }
  }
  await redis.quit();
}

await main();
