/**
 * Bench rows 12a–12d (`npm run bench`, step `fallback`): what the Viber → SMS fallback costs.
 * Enqueue: the same file through the CLI without a fallback, with a campaign-wide `--sms-text`,
 * and with a fallback text of each row's own (each counted in segments and stored with its
 * message), rounds interleaved, best of each. Tracking: the same campaign sent and followed to
 * its end, against a sandbox where a tenth of the phones have no Viber and the rest fare as
 * benchDelivery says, once without a fallback text and once with one (then every message that
 * ends 103/105/108 goes out as an SMS, and is tracked too): the worker's CPU, the time to the
 * end, the `<status>` requests, and the Redis a fallback keeps.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { phoneWithoutViber, SandboxGateway } from '../src/sandbox/server.js';
import { benchDelivery, TRACK_FLAGS } from './tracking.js';
import {
  CLI,
  untilSent,
  cpuSeconds,
  dropQueue,
  fmt,
  message,
  run,
  stop,
  until,
  usedMemory,
  type Row,
} from './lib.js';

export interface FallbackBench {
  redis: Redis;
  n: number;
  rounds: number;
  key: string;
  queue: (name: string) => string;
}

const SMS_TEXT = 'Знижка 20% на все — лише сьогодні! Деталі: example.com';

/** A campaign file of n rows; `own`: each row with its own fallback text (sms_text column). */
function campaignFile(dir: string, n: number, own: boolean): string {
  const file = join(dir, own ? 'own.csv' : 'plain.csv');
  const lines = [own ? 'id,phone,text,type,image,sms_text' : 'id,phone,text,type,image'];
  for (let id = 1; id <= n; id++) {
    const m = message(id);
    const row = `${id},${m.phone},"${m.text}",image,${m.image}`;
    lines.push(own ? `${row},"Замовлення #${id}: ${SMS_TEXT}"` : row);
  }
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

async function enqueueRows(b: FallbackBench): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'vb-bench-fb-'));
  const files = { plain: campaignFile(dir, b.n, false), own: campaignFile(dir, b.n, true) };
  const best = { none: Infinity, shared: Infinity, own: Infinity };
  try {
    for (let round = 0; round < b.rounds; round++) {
      for (const mode of ['none', 'shared', 'own'] as const) {
        const queue = b.queue(`fb-enq-${mode}-${round}`);
        const args = ['enqueue', '--campaign', 'bench', '--sender', 'SMSTest'];
        args.push('--file', mode === 'own' ? files.own : files.plain);
        if (mode === 'shared') args.push('--sms-text', SMS_TEXT);
        const started = performance.now();
        const child = run(CLI, args, { VIBER_QUEUE: queue });
        const code = await child.exited;
        if (code !== 0) throw new Error(`enqueue exited ${code}: ${child.output()}`);
        best[mode] = Math.min(best[mode], performance.now() - started);
        await dropQueue(queue);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rate = (ms: number) => `${fmt(b.n / (ms / 1000))} msg/s`;
  return [
    {
      what: `12a. enqueue ${fmt(b.n)} rows (CLI, a file) with a campaign-wide --sms-text vs none, best of ${b.rounds}`,
      ours: rate(best.shared),
      baseline: rate(best.none),
      ratio: `${(best.none / best.shared).toFixed(2)}×`,
      target: '≥ 0.90×',
      ok: best.none / best.shared >= 0.9,
    },
    {
      what: '12b. the same, every row with a fallback text of its own (sms_text column: counted, stored per message)',
      ours: rate(best.own),
      baseline: rate(best.none),
      ratio: `${(best.none / best.own).toFixed(2)}×`,
      target: '—',
      ok: null,
    },
  ];
}

async function counts(redis: Redis, queue: string, campaign: string) {
  const raw = await redis.hgetall(`bull:${queue}:vb:c:${campaign}:counts`);
  const n = (k: string) => Number(raw[k] ?? 0);
  return {
    total: n('total'),
    open: n('waiting') + n('active') + n('delayed'),
    tracking: n('tracking'),
  };
}

async function trackingRows(b: FallbackBench): Promise<Row[]> {
  const best = {
    none: { ms: Infinity, cpu: Infinity, requests: 0, bytes: 0, sms: 0 },
    fallback: { ms: Infinity, cpu: Infinity, requests: 0, bytes: 0, sms: 0 },
  };
  for (let round = 0; round < b.rounds; round++) {
    for (const mode of ['none', 'fallback'] as const) {
      const sandbox = new SandboxGateway({
        apiKey: b.key,
        keepMessages: false,
        delivery: benchDelivery(round),
        withoutViber: phoneWithoutViber,
      });
      await sandbox.start();
      const queue = b.queue(`fb-track-${mode}-${round}`);
      const before = await usedMemory(b.redis);
      const dir = mkdtempSync(join(tmpdir(), 'vb-bench-fb-'));
      const args = ['enqueue', '--campaign', 'bench', '--sender', 'SMSTest'];
      args.push('--file', campaignFile(dir, b.n, false));
      if (mode === 'fallback') args.push('--sms-text', SMS_TEXT);
      const enq = run(CLI, args, { VIBER_QUEUE: queue });
      if ((await enq.exited) !== 0) throw new Error(`enqueue failed: ${enq.output()}`);
      rmSync(dir, { recursive: true, force: true });
      const started = performance.now();
      const child = run(CLI, ['worker', ...TRACK_FLAGS], {
        VIBER_QUEUE: queue,
        ALPHASMS_URL: sandbox.url,
        ALPHASMS_API_KEY: b.key,
      });
      await untilSent(queue, b.redis, b.n);
      await until(
        async () => {
          const c = await counts(b.redis, queue, 'bench');
          const s = await counts(b.redis, queue, 'bench~sms');
          return c.tracking + s.open + s.tracking === 0;
        },
        `${queue} tracked, SMS included`,
        600_000,
        200,
      );
      const ms = performance.now() - started;
      const cpu = cpuSeconds(child.proc.pid as number);
      const sms = (await counts(b.redis, queue, 'bench~sms')).total;
      const bytes = (await usedMemory(b.redis)) - before;
      const r = best[mode];
      if (ms < r.ms)
        Object.assign(r, { ms, cpu, requests: sandbox.stats.statusRequests, bytes, sms });
      await stop(child);
      await sandbox.close();
      await dropQueue(queue);
    }
  }
  const { none, fallback } = best;
  const perFallback = (fallback.bytes - none.bytes) / Math.max(1, fallback.sms);
  return [
    {
      what: `12c. send and track ${fmt(b.n)} to the end, a tenth of the phones without Viber: with a fallback text (${fmt(fallback.sms)} SMS sent and tracked) vs without, worker CPU of the fastest round`,
      ours: `${fmt(fallback.cpu, 1)} s CPU, ${fmt(fallback.ms / 1000, 1)} s, ${fmt(fallback.requests)} status requests`,
      baseline: `${fmt(none.cpu, 1)} s CPU, ${fmt(none.ms / 1000, 1)} s, ${fmt(none.requests)} status requests`,
      ratio: `${(fallback.cpu / Math.max(0.01, none.cpu)).toFixed(2)}×`,
      target: '—',
      ok: null,
    },
    {
      what: "12d. Redis kept per SMS fallback once it ended (its record, state, counts; beside its message's)",
      ours: `${fmt(perFallback)} B`,
      baseline: '—',
      ratio: '—',
      target: '≤ 1,024 B',
      ok: perFallback <= 1024,
    },
  ];
}

export async function benchFallback(b: FallbackBench): Promise<Row[]> {
  return [...(await enqueueRows(b)), ...(await trackingRows(b))];
}
