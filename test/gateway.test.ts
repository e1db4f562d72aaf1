/**
 * The gateway client against an answer it must not trust: real HTTP servers on listen(0) that
 * trickle, flood, or echo the request back. The server's own clock and byte counts are the oracle.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatewayClient, redactKey } from '../src/gateway/client.js';
import { sampleMessages } from './helpers.js';

const KEY = 'k3y-9f2c71d0b84e4a6f93c5e1d27a86b40f';

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/api/xml.php`, server };
}

async function shut(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

describe('the gateway client, against an untrusted answer', () => {
  it('bounds the whole attempt, not only silences: an answer trickling in byte by byte times out and is retried', async () => {
    const timers: NodeJS.Timeout[] = [];
    const starts: number[] = [];
    const { url, server } = await serve((_req, res) => {
      starts.push(Date.now());
      res.writeHead(200, { 'content-type': 'text/xml' });
      // One byte every 200 ms: never silent for long, never done.
      const t = setInterval(() => res.write(' '), 200);
      timers.push(t);
      res.on('close', () => clearInterval(t));
    });
    const client = new GatewayClient({
      url,
      apiKey: KEY,
      timeoutMs: 1000,
      retries: 1,
      retryMinDelayMs: 0,
      retryMaxDelayMs: 0,
    });
    const started = Date.now();
    try {
      await expect(client.send(sampleMessages(2, 1))).rejects.toMatchObject({
        code: 'GATEWAY_TIMEOUT',
      });
      // Two attempts of about a second each, not for ever.
      expect(starts).toHaveLength(2);
      expect(Date.now() - started).toBeLessThan(4000);
      expect((starts[1] as number) - (starts[0] as number)).toBeGreaterThanOrEqual(900);
    } finally {
      timers.forEach(clearInterval);
      await client.close();
      await shut(server);
    }
  });

  it('abandons an answer larger than maxAnswerBytes, as a transport failure', async () => {
    let written = 0;
    let tries = 0;
    const { url, server } = await serve((_req, res) => {
      tries++;
      res.writeHead(200, { 'content-type': 'text/xml' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      // Up to 64 MB, as fast as the client takes it; stops when the client goes.
      const pump = () => {
        while (written < 64 * 1024 * 1024 && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const client = new GatewayClient({
      url,
      apiKey: KEY,
      maxAnswerBytes: 1024 * 1024,
      retries: 0,
    });
    try {
      await expect(client.send(sampleMessages(1, 1))).rejects.toMatchObject({
        code: 'GATEWAY_ANSWER_TOO_LARGE',
        message: 'gateway answer is larger than 1048576 bytes: abandoned',
      });
      expect(tries).toBe(1);
      // The client stopped reading soon after the cap (socket buffers let a few MB through).
      expect(written).toBeLessThan(16 * 1024 * 1024);
    } finally {
      await client.close();
      await shut(server);
    }
  });

  it('never lets the API key out through the excerpt of an answer that echoes the request', async () => {
    // A proxy answering with the request it got, as text and as an unreadable XML document.
    const answers = [
      (body: string) => `Bad Gateway: ${body}`,
      (body: string) => body.replace('<package', '<packag'),
      (body: string) => `<html>${body.slice(body.indexOf('key="') + 5)}</html>`,
    ];
    for (const answer of answers) {
      const { url, server } = await serve((_req, res, body) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(answer(body));
      });
      const client = new GatewayClient({ url, apiKey: KEY, retries: 0 });
      try {
        const err = (await client.send(sampleMessages(1, 1)).catch((e: unknown) => e)) as Error;
        expect(err).toMatchObject({ code: 'XML_MALFORMED' });
        for (let i = 0; i + 6 <= KEY.length; i++) {
          expect(err.message).not.toContain(KEY.slice(i, i + 6));
          expect(err.stack ?? '').not.toContain(KEY.slice(i, i + 6));
        }
      } finally {
        await client.close();
        await shut(server);
      }
    }
  });

  it('cuts the whole key and any piece of six or more characters out of a text', () => {
    expect(redactKey(`x ${KEY} y`, KEY)).toBe('x [redacted] y');
    expect(redactKey(`cut here: ${KEY.slice(0, 11)}`, KEY)).toBe('cut here: [redacted]');
    expect(redactKey('gateway answer is not XML', KEY)).toBe('gateway answer is not XML');
  });
});
