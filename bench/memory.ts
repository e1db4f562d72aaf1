/** Bench rows 5b/5c: a worker's peak RSS over a long send (`npm run bench`, BENCH_n). */
import type { Redis } from 'ioredis';
import { SandboxGateway } from '../src/sandbox/server.js';
import {
  CLI,
  completedCount,
  dropQueue,
  enqueueOurs,
  fmt,
  rss,
  run,
  stop,
  until,
  type Row,
} from './lib.js';

/** The worker's heap cap in docker-compose.yml: V8 then collects before garbage piles up. */
export const COMPOSE_NODE_OPTIONS = '--max-old-space-size=256';

export interface PeakRssRun {
  /** The row's label; `{n}` becomes the message count. */
  label: string;
  env: Record<string, string>;
  redis: Redis;
  n: number;
  queue: string;
  key: string;
  log(line: string): void;
}

/** Enqueues `n` messages, sends them with one `viber-bulk worker` and samples its RSS each second. */
export async function workerPeakRss(opts: PeakRssRun): Promise<Row> {
  const { label, env, redis, n, queue, key, log } = opts;
  const sandbox = new SandboxGateway({ apiKey: key, keepMessages: false });
  await sandbox.start();
  log(`  enqueueing ${fmt(n)} messages…`);
  await enqueueOurs(queue, n);
  const started = performance.now();
  const child = run(CLI, ['worker'], {
    VIBER_QUEUE: queue,
    ALPHASMS_URL: sandbox.url,
    ALPHASMS_API_KEY: key,
    ...env,
  });
  const samples: Array<{ done: number; rss: number }> = [];
  let peak = 0;
  await until(
    async () => {
      const done = await completedCount(queue, redis);
      try {
        const r = rss(child.proc.pid as number);
        peak = Math.max(peak, r);
        samples.push({ done, rss: r });
      } catch {
        // exited
      }
      return done >= n;
    },
    'the million',
    1_800_000,
    1000,
  );
  const ms = performance.now() - started;
  await stop(child);
  await sandbox.close();
  await dropQueue(queue);
  const at = (f: number) => samples.find((s) => s.done >= n * f)?.rss ?? 0;
  const mb = (b: number) => `${fmt(b / 1024 / 1024)} MB`;
  return {
    what: label.replace('{n}', fmt(n)),
    ours: `${mb(peak)} (at 25/50/75/100%: ${[0.25, 0.5, 0.75, 1].map((f) => fmt(at(f) / 1024 / 1024)).join(' / ')} MB)`,
    baseline: `${fmt(n / (ms / 1000))} msg/s over the run`,
    ratio: '—',
    target: '≤ 200 MB, flat',
    ok: peak <= 200 * 1024 * 1024,
  };
}
