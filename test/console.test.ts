/**
 * The campaign console, in a real headless Chromium against real Redis, a real worker and the
 * sandbox gateway: what an operator sees and does. The gateway's own record of what it accepted
 * is the oracle for sends, not the console's numbers.
 */
import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './chromium.js';
import { startDashboard, type Dashboard } from '../src/dashboard/server.js';
import { createRig, type Rig } from './fixture.js';
import { REDIS_URL, sampleMessages, waitFor } from './helpers.js';

const USER = 'ops';
const PASSWORD = 's3cret pass';
const AUTH = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
/** The little of the DOM these tests touch inside the page (the tests compile without DOM types). */
interface Doc {
  document: { activeElement: unknown };
}
interface Canvas {
  width: number;
  height: number;
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
  };
}
/** Where the README's screenshots come from when SCREENSHOTS is set. */
const SHOTS = process.env['SCREENSHOTS'];

describe('the campaign console, in a real headless Chromium', () => {
  let rig: Rig;
  let dashboard: Dashboard;
  let browser: Browser;
  let context: BrowserContext;
  const errors: string[] = [];
  /** How many of the spring campaign's ids (1..2000) the gateway accepted. */
  const springAccepted = () => [...rig.sandbox.accepted.keys()].filter((id) => id <= 2000).length;

  beforeAll(async () => {
    rig = await createRig('console');
    await rig.producer.enqueue('spring', sampleMessages(2000, 1));
    await rig.producer.enqueue('autumn', sampleMessages(30, 5001), {
      at: new Date(Date.now() + 86_400_000),
    });
    dashboard = await startDashboard({
      connection: REDIS_URL,
      queueNames: [rig.queueName],
      port: 0,
      user: USER,
      password: PASSWORD,
    });
    browser = await launchChromium();
    context = await browser.newContext({
      httpCredentials: { username: USER, password: PASSWORD },
    });
    // Sends slowly enough that a pause lands mid-campaign.
    await rig.startWorker({ rate: 150, batchSize: 10 });
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await dashboard?.close();
    await rig?.close();
  });

  afterEach(() => {
    // No page logged an error or threw.
    const seen = errors.splice(0);
    expect(seen).toEqual([]);
  });

  async function open(path: string, width = 1200): Promise<Page> {
    const page = await context.newPage();
    await page.setViewportSize({ width, height: 900 });
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(new URL(path, dashboard.url).href);
    return page;
  }

  it('lists the campaigns enqueue created, newest first, with their states', async () => {
    const page = await open('/');
    const rows = page.locator('#campaigns tbody tr');
    await waitFor(async () => (await rows.count()) === 2, 'two rows');
    expect(await rows.nth(0).locator('td').nth(0).innerText()).toBe('autumn');
    expect(await rows.nth(0).locator('td').nth(1).innerText()).toBe('scheduled');
    expect(await rows.nth(1).locator('td').nth(0).innerText()).toBe('spring');
    expect(await rows.nth(1).locator('td').nth(1).innerText()).toBe('sending');
    // The filter by state keeps only what matches.
    await page.selectOption('#f-state', 'scheduled');
    await waitFor(async () => (await rows.count()) === 1, 'one row');
    expect(await rows.nth(0).locator('td').nth(0).innerText()).toBe('autumn');
    if (SHOTS) {
      mkdirSync(SHOTS, { recursive: true });
      await page.selectOption('#f-state', '');
      await waitFor(async () => (await rows.count()) === 2, 'two rows');
      await page.screenshot({ path: `${SHOTS}/console-list.png`, fullPage: true });
    }
    await page.close();
  });

  it('pausing from the page stops the worker sending that campaign; resuming restarts it', async () => {
    const page = await open('/campaigns/spring');
    await waitFor(async () => springAccepted() > 50, 'some of spring sent');
    // With the keyboard: Tab to the button, Enter.
    const pause = page.getByRole('button', { name: 'Pause', exact: true });
    const focused = () =>
      pause.evaluate((b) => b === (globalThis as unknown as Doc).document.activeElement);
    for (let i = 0; i < 40 && !(await focused()); i++) await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.locator('#status', { hasText: /^paused/ }).waitFor({ timeout: 10_000 });
    // What was on the wire when the pause came may still land; after that, nothing.
    await waitFor(
      async () => (await rig.inspector.counts('spring')).active === 0,
      'no package in flight',
    );
    const atPause = springAccepted();
    await new Promise((r) => setTimeout(r, 1500));
    expect(springAccepted()).toBe(atPause);
    expect(atPause).toBeLessThan(2000);
    await page.getByRole('button', { name: 'Resume', exact: true }).click();
    await waitFor(async () => springAccepted() > atPause + 20, 'sending again');
    await page.locator('#status', { hasText: /^sending/ }).waitFor({ timeout: 10_000 });
    await page.close();
  });

  it('draws the accepted messages per minute as a chart with points', async () => {
    const page = await open('/campaigns/spring');
    const canvas = page.locator('#chart canvas');
    await canvas.waitFor({ timeout: 10_000 });
    // Pixels of the accepted series' colour (#1565c0): the chart drew the line and its points.
    const drawn = await waitFor(
      () =>
        canvas.evaluate((c) => {
          const cv = c as unknown as Canvas;
          const px = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
          let n = 0;
          for (let i = 0; i < px.length; i += 4)
            if (px[i] === 21 && px[i + 1] === 101 && px[i + 2] === 192) n++;
          return n > 0 ? n : undefined;
        }),
      'the accepted series drawn',
    );
    expect(drawn).toBeGreaterThan(0);
    const api = (await (
      await fetch(new URL('/api/campaigns/spring', dashboard.url), {
        headers: { authorization: AUTH },
      })
    ).json()) as { timeline: Array<{ accepted: number }> };
    // Every message accepted so far is in some minute of the timeline.
    const inTimeline = api.timeline.reduce((a, t) => a + t.accepted, 0);
    expect(inTimeline).toBeGreaterThan(0);
    expect(inTimeline).toBeLessThanOrEqual(springAccepted());
    await page.close();
  });

  it("finds a message by its id and shows the gateway's msg_id, the phone partly masked", async () => {
    const page = await open('/campaigns/spring');
    await page.getByLabel('Message id').fill('3');
    await page.keyboard.press('Enter');
    const want = rig.sandbox.accepted.get(3)?.msgId;
    expect(want).toBeDefined();
    const box = page.locator('#message');
    await box.getByText(String(want), { exact: true }).waitFor({ timeout: 10_000 });
    const text = await box.innerText();
    expect(text).toContain('+38097•••0002');
    expect(text).not.toContain('+380971000002');
    if (SHOTS) await page.screenshot({ path: `${SHOTS}/console-campaign.png`, fullPage: true });
    await page.close();
  });

  it('is readable at 320 px wide: nothing but the table scrolls sideways', async () => {
    for (const path of ['/', '/campaigns/spring']) {
      const page = await open(path, 320);
      await page.locator('#status').waitFor({ state: 'attached' });
      await page.waitForTimeout(500);
      const wide = (await page.evaluate('document.documentElement.scrollWidth')) as number;
      expect({ path, wide: wide <= 320 }).toEqual({ path, wide: true });
      await page.close();
    }
  });

  it('refuses a cross-site POST, a POST without the token, and a request without credentials', async () => {
    const url = new URL('/api/campaigns/autumn/pause', dashboard.url).href;
    const post = (headers: Record<string, string>) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } });
    const own = new URL(dashboard.url).origin;
    expect((await post({ authorization: AUTH, origin: 'http://evil.example' })).status).toBe(403);
    expect((await post({ authorization: AUTH, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post({ authorization: AUTH, origin: own })).status).toBe(403);
    expect((await post({ authorization: AUTH, origin: own, 'x-csrf-token': 'guess' })).status).toBe(
      403,
    );
    const anonymous = await post({});
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect((await fetch(new URL('/api/campaigns', dashboard.url))).status).toBe(401);
    // None of them changed anything.
    expect((await rig.inspector.counts('autumn')).control).toBeNull();
    // A script with credentials and neither header (curl) may.
    const curl = await post({ authorization: AUTH });
    expect(curl.status).toBe(200);
    expect(await curl.json()).toEqual({ campaign: 'autumn', paused: 30 });
    expect((await rig.inspector.counts('autumn')).control).toBe('paused');
  });

  it('asks before it cancels, naming the campaign and how many messages it stops', async () => {
    const page = await open('/campaigns/autumn');
    await page.locator('#status', { hasText: /^paused/ }).waitFor({ timeout: 10_000 });
    const asked: string[] = [];
    const answer = { accept: false };
    page.on('dialog', (d) => {
      asked.push(d.message());
      void (answer.accept ? d.accept() : d.dismiss());
    });
    const cancel = page.getByRole('button', { name: 'Cancel', exact: true });
    await cancel.click();
    await waitFor(() => asked.length === 1, 'the confirmation');
    expect(asked[0]).toBe('Cancel campaign autumn? It stops 30 messages not sent yet.');
    // Dismissed: nothing changed.
    expect((await rig.inspector.counts('autumn')).control).toBe('paused');
    answer.accept = true;
    await cancel.click();
    await page.locator('#status', { hasText: /^cancelled/ }).waitFor({ timeout: 10_000 });
    expect(await rig.inspector.counts('autumn')).toMatchObject({
      control: 'cancelled',
      cancelled: 30,
    });
    await page.close();
  });
});
