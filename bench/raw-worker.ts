/**
 * Baselines, run as their own process like our worker:
 *   noop <queue> <concurrency>          a BullMQ worker that completes every job at once
 *   per-job <queue> <concurrency> <url> the usual hand-written worker: one POST per job (undici)
 *   batch <queue> <concurrency> <url>   the least a batching worker can do: jobs parked until 50
 *                                       are held (or 5 ms passed), one POST each, msg_ids read
 *                                       with a regex; no counts, no controls, no pacing, no checks
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

const xmlOf = (m: {
  id: number;
  phone: string;
  sender: string;
  type: string;
  text: string;
  image: string;
}) =>
  `<msg id="${m.id}"><phone>${m.phone}</phone><sender>${esc(m.sender)}</sender><type>${m.type}</type><text>${esc(m.text)}</text><image>${esc(m.image)}</image></msg>`;

const pkg = (msgs: string) =>
  `<?xml version="1.0" encoding="utf-8"?><package key="${key}"><message-viber>${msgs}</message-viber></package>`;

interface Held {
  xml: string;
  id: number;
  resolve: (v: unknown) => void;
}
let held: Held[] = [];
let timer: NodeJS.Timeout | undefined;
function flush(): void {
  clearTimeout(timer);
  timer = undefined;
  const batch = held;
  held = [];
  void request(url as string, { method: 'POST', body: pkg(batch.map((h) => h.xml).join('')) })
    .then((res) => res.body.text())
    .then((text) => {
      const ids = new Map<string, string>();
      for (const m of text.matchAll(/<msg id="(\d+)" msg_id="(\d+)"/g))
        ids.set(m[1] ?? '', m[2] ?? '');
      for (const h of batch) h.resolve({ msgId: Number(ids.get(String(h.id))) });
    });
}

const worker = new Worker(
  queueName as string,
  async (job) => {
    if (mode === 'noop') return { ok: true };
    if (mode === 'batch') {
      return new Promise((resolve) => {
        held.push({ xml: xmlOf(job.data.message), id: job.data.message.id, resolve });
        if (held.length >= 50) flush();
        else timer ??= setTimeout(flush, 5);
      });
    }
    const res = await request(url as string, {
      method: 'POST',
      body: pkg(xmlOf(job.data.message)),
    });
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
