/**
 * What a message costs Redis, enqueue to accepted, tracking off: commands (INFO commandstats,
 * which counts the commands run inside scripts too) and CPU (INFO cpu, the whole server: keep the
 * machine otherwise quiet), against raw BullMQ adding a job and a no-op worker completing it.
 * Both sides measured from the first enqueue to the last completion, best of `rounds`.
 */
import type { Redis } from 'ioredis';
import { SandboxGateway } from '../src/sandbox/server.js';
import {
  CLI,
  RAW_ENQUEUE,
  RAW_WORKER,
  untilSent,
  dropQueue,
  enqueueOurs,
  fmt,
  run,
  stop,
  type Row,
} from './lib.js';

export interface CostBench {
  redis: Redis;
  n: number;
  rounds: number;
  key: string;
  queue: (name: string) => string;
}

export interface Cost {
  commands: number;
  cpuMs: number;
}

export async function redisCounters(redis: Redis): Promise<Cost> {
  const stats = await redis.info('commandstats');
  let commands = 0;
  for (const m of stats.matchAll(/calls=(\d+)/g)) commands += Number(m[1]);
  const cpu = await redis.info('cpu');
  const sec = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(cpu)?.[1] ?? 0);
  return { commands, cpuMs: (sec('used_cpu_sys') + sec('used_cpu_user')) * 1000 };
}

async function measure(b: CostBench, body: () => Promise<void>): Promise<Cost> {
  const before = await redisCounters(b.redis);
  await body();
  const after = await redisCounters(b.redis);
  return {
    commands: (after.commands - before.commands) / b.n,
    cpuMs: (after.cpuMs - before.cpuMs) / b.n,
  };
}

export async function benchRedisCost(b: CostBench): Promise<Row[]> {
  let raw: Cost = { commands: Infinity, cpuMs: Infinity };
  let ours: Cost = { commands: Infinity, cpuMs: Infinity };
  const best = (x: Cost, y: Cost): Cost => ({
    commands: Math.min(x.commands, y.commands),
    cpuMs: Math.min(x.cpuMs, y.cpuMs),
  });
  for (let round = 0; round < b.rounds; round++) {
    const rq = b.queue(`cost-raw-${round}`);
    raw = best(
      raw,
      await measure(b, async () => {
        const add = run(RAW_ENQUEUE, [rq, String(b.n)]);
        if ((await add.exited) !== 0) throw new Error(`raw enqueue: ${add.output()}`);
        const worker = run(RAW_WORKER, ['noop', rq, '100']);
        await untilSent(rq, b.redis, b.n);
        await stop(worker);
      }),
    );
    await dropQueue(rq);

    const sandbox = new SandboxGateway({ apiKey: b.key, keepMessages: false });
    await sandbox.start();
    const oq = b.queue(`cost-ours-${round}`);
    ours = best(
      ours,
      await measure(b, async () => {
        await enqueueOurs(oq, b.n);
        const worker = run(CLI, ['worker', '--no-track'], {
          VIBER_QUEUE: oq,
          ALPHASMS_URL: sandbox.url,
          ALPHASMS_API_KEY: b.key,
        });
        await untilSent(oq, b.redis, b.n);
        await stop(worker);
      }),
    );
    await sandbox.close();
    await dropQueue(oq);
  }
  const cpuRatio = ours.cpuMs / raw.cpuMs;
  return [
    {
      what: `10a. Redis commands per message, enqueue → accepted, tracking off (${fmt(b.n)} messages; INFO commandstats, scripts' inner commands included) vs raw BullMQ add + no-op process per job, best of ${b.rounds}`,
      ours: `${fmt(ours.commands, 1)} commands`,
      baseline: `${fmt(raw.commands, 1)} commands`,
      ratio: `${(ours.commands / raw.commands).toFixed(2)}×`,
      target: '≤ 15 commands',
      ok: ours.commands <= 15,
    },
    {
      what: `10b. Redis CPU per message, the same runs (INFO cpu, the whole server)`,
      ours: `${fmt(ours.cpuMs * 1000, 1)} µs`,
      baseline: `${fmt(raw.cpuMs * 1000, 1)} µs`,
      ratio: `${cpuRatio.toFixed(2)}×`,
      target: '≤ 0.50×',
      ok: cpuRatio <= 0.5,
    },
  ];
}
