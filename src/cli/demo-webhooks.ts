/**
 * The demo's webhook receiver: what a backend would run, in a few lines — every request verified
 * with the Standard Webhooks package (as the README shows) before its events are counted.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface DemoReceiver {
  url: string;
  /** Events taken, by type (duplicates, which at-least-once allows, counted once by id). */
  byType: Map<string, number>;
  /** Requests that failed verification (answered 401). */
  refused: number;
  close(): Promise<void>;
}

export async function startDemoReceiver(secret: string): Promise<DemoReceiver> {
  const wh = new Webhook(secret);
  const seen = new Set<string>();
  const r = { byType: new Map<string, number>(), refused: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let events: Array<{ id: string; type: string }>;
      try {
        const body = Buffer.concat(chunks).toString('utf8');
        ({ events } = wh.verify(body, req.headers as Record<string, string>) as {
          events: typeof events;
        });
      } catch {
        r.refused++;
        res.writeHead(401).end();
        return;
      }
      for (const e of events) {
        if (seen.has(e.id)) continue;
        seen.add(e.id);
        r.byType.set(e.type, (r.byType.get(e.type) ?? 0) + 1);
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(r, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
