/**
 * The dashboard against a stranger: read-only whatever the credentials, answering only to its own
 * Host, loopback only without credentials, refusing a taken port at once. Real HTTP on listen(0);
 * BullMQ's own job counts are the oracle for "nothing changed".
 */
import { request } from 'node:http';
import { createServer } from 'node:net';
import { startDashboard, type Dashboard } from '../src/dashboard/server.js';
import { sameSecret } from '../src/dashboard/guard.js';
import { createRig, type Rig } from './fixture.js';
import { REDIS_URL, releaseQueued, sampleMessages, messageCounts, messageView } from './helpers.js';

const AUTH = `Basic ${Buffer.from('ops:s3cret pass').toString('base64')}`;

/** One HTTP exchange with the headers as given (a Host of our choosing included). */
function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the dashboard, hardened', () => {
  let rig: Rig;
  let dashboard: Dashboard;

  beforeAll(async () => {
    rig = await createRig('guard');
    await rig.producer.enqueue('c', sampleMessages(3, 1));
    expect(await releaseQueued(rig.queue)).toMatchObject({ released: 3 });
    dashboard = await startDashboard({
      connection: REDIS_URL,
      queueNames: [rig.queueName],
      port: 0,
      user: 'ops',
      password: 's3cret pass',
      allowedHosts: ['dash.example.com'],
    });
  });

  afterAll(async () => {
    await dashboard?.close();
    await rig?.close();
  });

  it('changes nothing through its API, with or without credentials', async () => {
    const q = encodeURIComponent(rig.queueName);
    const before = await messageCounts(
      rig.queue,
      'completed',
      'failed',
      'wait',
      'active',
      'delayed',
      'paused',
    );
    const writes: Array<[string, string, string?]> = [
      ['POST', `queues/api/queues/${q}/add`, JSON.stringify({ name: 'send', data: { x: 1 } })],
      ['PUT', `queues/api/queues/${q}/retry/failed`],
      ['PUT', `queues/api/queues/${q}/promote`],
      ['PUT', `queues/api/queues/${q}/clean/completed`],
      ['PUT', `queues/api/queues/${q}/empty`],
      ['PUT', `queues/api/queues/${q}/pause`],
      ['PUT', `queues/api/queues/pause`],
      ['PUT', `queues/api/queues/${q}/m1/remove`],
      ['DELETE', `queues/api/queues/${q}/m1`],
    ];
    const auths: Array<Record<string, string>> = [{ authorization: AUTH }, {}];
    for (const auth of auths) {
      for (const [method, path, body] of writes) {
        const r = await send(
          new URL(path, dashboard.url).href,
          method,
          {
            ...auth,
            'content-type': 'application/json',
          },
          body,
        );
        expect([method, path, r.status >= 400 && r.status < 500]).toEqual([method, path, true]);
      }
    }
    expect(
      await messageCounts(rig.queue, 'completed', 'failed', 'wait', 'active', 'delayed', 'paused'),
    ).toEqual(before);
    expect(await rig.queue.isPaused()).toBe(false);
    expect((await messageView(rig.queue, 1))?.id).toBe('m1');
    // Reading still works.
    const page = await send(new URL('queues/api/queues', dashboard.url).href, 'GET', {
      authorization: AUTH,
    });
    expect(page.status).toBe(200);
    expect(page.text).toContain(rig.queueName);
  });

  it('answers only to its own address and the names it was given (DNS rebinding)', async () => {
    const port = new URL(dashboard.url).port;
    const at = (host: string) => send(dashboard.url, 'GET', { host, authorization: AUTH });
    expect((await at(`127.0.0.1:${port}`)).status).toBe(200);
    expect((await at(`localhost:${port}`)).status).toBe(200);
    expect((await at(`dash.example.com:${port}`)).status).toBe(200);
    expect((await at(`evil.example:${port}`)).status).toBe(421);
    expect((await at(`127.0.0.1:${Number(port) + 1}`)).status).toBe(421);
    // Refused before the credentials are even looked at.
    expect((await send(dashboard.url, 'GET', { host: 'evil.example' })).status).toBe(421);
  });

  it('needs both halves of the credentials, and tells neither which one was wrong', async () => {
    const as = (pair: string) =>
      send(dashboard.url, 'GET', {
        authorization: `Basic ${Buffer.from(pair).toString('base64')}`,
      });
    const wrongUser = await as('opz:s3cret pass');
    const wrongPassword = await as('ops:s3cret pasz');
    expect([wrongUser.status, wrongPassword.status]).toEqual([401, 401]);
    expect(wrongUser.text).toBe(wrongPassword.text);
    expect((await as('ops:s3cret pass')).status).toBe(200);
    expect(sameSecret('a', 'a longer secret')).toBe(false);
    expect(sameSecret('same', 'same')).toBe(true);
  });

  it('listens beyond loopback only behind credentials, and says which variables to set', async () => {
    for (const creds of [{}, { user: '', password: '' }]) {
      await expect(
        startDashboard({ connection: REDIS_URL, port: 0, host: '0.0.0.0', ...creds }),
      ).rejects.toMatchObject({
        code: 'INVALID_OPTION',
        message: expect.stringContaining('DASHBOARD_USER and DASHBOARD_PASSWORD'),
      });
    }
  });

  it('refuses a port that is taken at once, naming it', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as { port: number }).port;
    try {
      await expect(
        startDashboard({ connection: REDIS_URL, queueNames: [rig.queueName], port }),
      ).rejects.toMatchObject({
        code: 'INVALID_OPTION',
        message: `dashboard port ${port} on 127.0.0.1 is taken (EADDRINUSE): choose another with --port`,
      });
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });
});
