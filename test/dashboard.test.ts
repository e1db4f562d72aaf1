import type { Browser } from 'playwright-core';
import { launchChromium } from './chromium.js';
import { startDashboard, type Dashboard } from '../src/dashboard/server.js';
import { createRig, type Rig } from './fixture.js';
import { REDIS_URL, releaseQueued, sampleMessages } from './helpers.js';

describe('the dashboard, in a real headless Chromium', () => {
  let rig: Rig;
  let dashboard: Dashboard;
  let browser: Browser;

  beforeAll(async () => {
    rig = await createRig('dash');
    // Campaign-wide fields as defaults: jobs name the shared set, the job view shows them merged.
    await rig.producer.enqueue(
      'spring',
      sampleMessages(12, 501).map(({ id, phone }) => ({ id, phone })),
      { defaults: { sender: 'SMSTest', type: 'text', text: 'Shared spring hello' } },
    );
    // Released by a dispatcher (no worker runs): queued messages are jobs only from then on.
    expect(await releaseQueued(rig.queue)).toMatchObject({ released: 12 });
    dashboard = await startDashboard({
      connection: REDIS_URL,
      queueNames: [rig.queueName],
      port: 0,
      user: 'ops',
      password: 's3cret pass',
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await dashboard?.close();
    await rig?.close();
  });

  it('asks for basic auth when DASHBOARD_USER/DASHBOARD_PASSWORD are set', async () => {
    expect((await fetch(dashboard.url)).status).toBe(401);
    const wrong = Buffer.from('ops:nope').toString('base64');
    expect(
      (await fetch(dashboard.url, { headers: { authorization: `Basic ${wrong}` } })).status,
    ).toBe(401);
  });

  it('loads and shows the queue with its released jobs, their campaign-wide fields merged in', async () => {
    const context = await browser.newContext({
      httpCredentials: { username: 'ops', password: 's3cret pass' },
    });
    try {
      const page = await context.newPage();
      await page.goto(`${dashboard.url}queues`);
      await page.getByText(rig.queueName).first().waitFor({ timeout: 20_000 });
      await page.goto(
        `${dashboard.url}queues/queue/${encodeURIComponent(rig.queueName)}?status=waiting`,
      );
      // Job ids are package ids; the page lists them with the messages each holds.
      await page.getByText('p1', { exact: true }).first().waitFor({ timeout: 20_000 });
      const text = await page.locator('body').innerText();
      expect(text).toMatch(/WAITING\s+1\b/);
      expect(text).toContain('size:12');
      expect(text).toContain('id:501');
      expect(text).toContain('campaign:"spring"');
      expect(text).toContain('more:7');
      expect(text).toContain('Shared spring hello');
    } finally {
      await context.close();
    }
  });
});
