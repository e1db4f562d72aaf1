/**
 * A webhook receiver for tests, as a backend would run one: every request is verified twice —
 * with the Standard Webhooks package (`standardwebhooks`, as the README shows a receiver doing)
 * and with node:crypto's HMAC over `<webhook-id>.<webhook-timestamp>.<body>` (an oracle that is
 * not the signer's code) — before its events are taken. A request that fails either is answered
 * 401 and counted in `unsigned`; its events are not taken.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { WebhookEvent } from '../src/webhook/event.js';

export interface Receiver {
  url: string;
  /** Every event taken (answered 2xx), duplicates included, in order of arrival. */
  events: WebhookEvent[];
  /** Requests answered, by status. */
  answered: Map<number, number>;
  /** Requests that failed verification. */
  unsigned: number;
  /** webhook-id of each request taken. */
  requestIds: string[];
  /** Requests read and not answered yet (held by `hold`). */
  pending: number;
  close(): Promise<void>;
}

export interface ReceiverOptions {
  secret: string;
  /** The status to answer a verified request with (n counts requests from 1); default 200. */
  answer?: (n: number) => number;
  /**
   * While it returns a promise for a request's path, the request waits for it, and is then
   * answered 503 without taking its events (a receiver that went down meanwhile).
   */
  hold?: (path: string) => Promise<void> | undefined;
}

/** The HMAC key a secret stands for: base64 after `whsec_`, else the text's UTF-8 bytes. */
function keyOf(secret: string): Buffer {
  return secret.startsWith('whsec_')
    ? Buffer.from(secret.slice(6), 'base64')
    : Buffer.from(secret, 'utf8');
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startReceiver(opts: ReceiverOptions): Promise<Receiver> {
  const key = keyOf(opts.secret);
  const wh = opts.secret.startsWith('whsec_')
    ? new Webhook(opts.secret)
    : new Webhook(key, { format: 'raw' });
  const r: Omit<Receiver, 'url' | 'close'> = {
    events: [],
    answered: new Map(),
    unsigned: 0,
    requestIds: [],
    pending: 0,
  };
  let n = 0;
  const server: Server = createServer((req, res) => {
    void readBody(req).then(async (body) => {
      const held = opts.hold?.(req.url ?? '');
      if (held) {
        r.pending++;
        await held;
        r.pending--;
        r.answered.set(503, (r.answered.get(503) ?? 0) + 1);
        res.writeHead(503).end();
        return;
      }
      const id = String(req.headers['webhook-id'] ?? '');
      const ts = String(req.headers['webhook-timestamp'] ?? '');
      const sig = String(req.headers['webhook-signature'] ?? '');
      const mac = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
      let ok = sig === `v1,${mac}`;
      try {
        wh.verify(body, req.headers as Record<string, string>);
      } catch {
        ok = false;
      }
      const status = ok ? (opts.answer?.(++n) ?? 200) : 401;
      if (!ok) r.unsigned++;
      r.answered.set(status, (r.answered.get(status) ?? 0) + 1);
      if (status >= 200 && status < 300) {
        r.requestIds.push(id);
        r.events.push(...(JSON.parse(body) as { events: WebhookEvent[] }).events);
      }
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(r, {
    url: `http://127.0.0.1:${port}/hooks?token=t0ken`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  });
}
