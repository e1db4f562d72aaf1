/**
 * What webhooks cost the send row: the same CLI worker sending the same messages with and without
 * `WEBHOOK_URL` (a receiver in this process answering 200 at once), rounds interleaved, best of
 * each; how long after the last acceptance the last event arrives; what an event held in the
 * outbox costs Redis (an endpoint that refuses connections, every event held).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { SandboxGateway } from '../src/sandbox/server.js';
import { redisCounters, type Cost } from './redis-cost.js';
import { CLI, untilSent, dropQueue, enqueueOurs, fmt, run, stop, until, type Row } from './lib.js';

export interface WebhookBench {
  redis: Redis;
  n: number;
  rounds: number;
  key: string;
  queue: (name: string) => string;
}

const SECRET = 'whsec_' + Buffer.from('bench signing key, 32 bytes long').toString('base64');

/** A receiver that takes every request: it counts events, and verifies nothing (its own cost). */
async function receiver(): Promise<{ url: string; events: () => number; close(): Promise<void> }> {
  let events = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      events += (JSON.parse(body) as { events: unknown[] }).events.length;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    events: () => events,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export async function benchWebhooks(b: WebhookBench): Promise<Row[]> {
  let off = Infinity;
  let on = Infinity;
  let drained = Infinity;
  const cost = {
    on: { commands: Infinity, cpuMs: Infinity },
    off: { commands: Infinity, cpuMs: Infinity },
  };
  const least = (a: Cost, b: Cost): Cost => ({
    commands: Math.min(a.commands, b.commands),
    cpuMs: Math.min(a.cpuMs, b.cpuMs),
  });
  for (let round = 0; round < b.rounds; round++) {
    for (const hooks of [false, true]) {
      const sandbox = new SandboxGateway({ apiKey: b.key, keepMessages: false });
      await sandbox.start();
      const r = await receiver();
      const qn = b.queue(`hooks-${hooks ? 'on' : 'off'}-${round}`);
      await enqueueOurs(qn, b.n);
      const before = await redisCounters(b.redis);
      const started = performance.now();
      const child = run(CLI, ['worker'], {
        VIBER_QUEUE: qn,
        ALPHASMS_URL: sandbox.url,
        ALPHASMS_API_KEY: b.key,
        ...(hooks ? { WEBHOOK_URL: r.url, WEBHOOK_SECRET: SECRET } : {}),
      });
      await untilSent(qn, b.redis, b.n);
      const sent = performance.now() - started;
      if (hooks) {
        on = Math.min(on, sent);
        // Every accepted message's event and the campaign's end.
        await until(() => r.events() >= b.n + 1, `${qn} events`, 600_000, 100);
        drained = Math.min(drained, performance.now() - started - sent);
      } else off = Math.min(off, sent);
      // Sending and, with webhooks, every event delivered: what the whole of it cost Redis.
      const after = await redisCounters(b.redis);
      const side = hooks ? 'on' : 'off';
      cost[side] = least(cost[side], {
        commands: (after.commands - before.commands) / b.n,
        cpuMs: (after.cpuMs - before.cpuMs) / b.n,
      });
      await stop(child);
      await r.close();
      await sandbox.close();
      await dropQueue(qn);
    }
  }

  // An event held: the endpoint refuses connections, so every event stays in the outbox.
  const qn = b.queue('hooks-held');
  const sandbox = new SandboxGateway({ apiKey: b.key, keepMessages: false });
  await sandbox.start();
  await enqueueOurs(qn, b.n);
  const child = run(CLI, ['worker', '--no-track'], {
    VIBER_QUEUE: qn,
    ALPHASMS_URL: sandbox.url,
    ALPHASMS_API_KEY: b.key,
    WEBHOOK_URL: 'http://127.0.0.1:9/refused',
    WEBHOOK_SECRET: SECRET,
  });
  await untilSent(qn, b.redis, b.n);
  await stop(child);
  const base = `bull:${qn}:`;
  const held = Number(await b.redis.hget(`${base}vb:wh`, 'held'));
  let eventBytes = 0;
  for (const k of ['vb:wh:new', 'vb:wh:ev', 'vb:wh:due']) {
    eventBytes += Number(await b.redis.call('MEMORY', 'USAGE', `${base}${k}`, 'SAMPLES', '0'));
  }
  await sandbox.close();
  await dropQueue(qn);

  const ratio = off / on;
  return [
    {
      what: `11a. send ${fmt(b.n)} messages with webhooks on (a receiver answering at once) vs off, best of ${b.rounds}`,
      ours: `${fmt(b.n / (on / 1000))} msg/s`,
      baseline: `${fmt(b.n / (off / 1000))} msg/s`,
      ratio: `${ratio.toFixed(2)}×`,
      target: '≥ 0.9×',
      ok: ratio >= 0.9,
    },
    {
      what: '11a. Redis per message, the same runs, with webhooks (every event delivered) vs without: commands; CPU (INFO cpu, the whole server)',
      ours: `${fmt(cost.on.commands, 1)} commands; ${fmt(cost.on.cpuMs * 1000, 1)} µs`,
      baseline: `${fmt(cost.off.commands, 1)} commands; ${fmt(cost.off.cpuMs * 1000, 1)} µs`,
      ratio: `${(cost.on.cpuMs / cost.off.cpuMs).toFixed(2)}× CPU`,
      target: '—',
      ok: null,
    },
    {
      what: '11b. the last event delivered after the last message was accepted (same runs)',
      // Polled every 100 ms: under that, every event had arrived when the last acceptance did.
      ours: drained < 100 ? '< 100 ms' : `${fmt(drained)} ms`,
      baseline: '—',
      ratio: '—',
      target: '≤ 5,000 ms',
      ok: drained <= 5000,
    },
    {
      what: `11c. Redis per event held in the outbox (${fmt(held)} held, the endpoint refusing; MEMORY USAGE of vb:wh:new, vb:wh:ev and vb:wh:due)`,
      ours: `${fmt(eventBytes / held)} B`,
      baseline: '—',
      ratio: '—',
      target: '—',
      ok: null,
    },
  ];
}
