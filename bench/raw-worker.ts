/**
 * Baselines, run as their own process like our worker:
 *   noop <queue> <concurrency>          a BullMQ worker that completes every job at once
 *   per-job <queue> <concurrency> <url> the usual hand-written worker: one POST per job (undici)
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { request } from 'undici';

const [mode, queueName, concurrencyText, url] = process.argv.slice(2);
const connection = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', {
  maxRetriesPerRequest: null,
});
const key = process.env['ALPHASMS_API_KEY'] ?? '';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const worker = new Worker(
  queueName as string,
  async (job) => {
    if (mode === 'noop') return { ok: true };
    const m = job.data.message;
    const xml = `<?xml version="1.0" encoding="utf-8"?><package key="${key}"><message-viber><msg id="${m.id}"><phone>${m.phone}</phone><sender>${esc(m.sender)}</sender><type>${m.type}</type><text>${esc(m.text)}</text><image>${esc(m.image)}</image></msg></message-viber></package>`;
    const res = await request(url as string, { method: 'POST', body: xml });
    const body = await res.body.text();
    const msgId = /msg_id="(\d+)"/.exec(body)?.[1];
    return { msgId: Number(msgId) };
  },
  { connection, concurrency: Number(concurrencyText) },
);
process.once('SIGTERM', () => {
  void worker.close().then(() => {
    connection.disconnect();
    process.exit(0);
  });
});
