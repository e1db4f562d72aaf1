/**
 * The CLI's other promises, each through the real command in a child process: the demo itself,
 * the sandbox and dashboard commands, exit code 3, the start-up lock check, CSV columns over flags.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { fateOf, type DeliverySimulation } from '../src/sandbox/delivery.js';
import { buildSendPackage } from '../src/xml/build.js';
import { parseSendAnswer } from '../src/xml/parse.js';
import { CLI, killAllCliWorkers, startCliWorker } from './cli-worker.js';
import { createRig, type Rig } from './fixture.js';
import {
  REDIS_URL,
  sampleMessages,
  waitFor,
  wholeMessage,
  within,
  messageCounts,
} from './helpers.js';
import { redisAnswers } from '../src/redis.js';

/** Deliveries for the status/results checks: quick, a mix of fates, reads. */
const SIM: DeliverySimulation = {
  delayMs: [50, 300],
  outcomes: { 102: 0.6, 105: 0.2, 108: 0.2 },
  readShare: 0.5,
  readDelayMs: [50, 200],
  seed: 3,
};

const DEMO = fileURLToPath(new URL('../dist/cli/demo.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a script to its end, killed and failed after `timeoutMs`. */
function run(script: string, args: string[], env: Record<string, string>, timeoutMs = 60_000) {
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, REDIS_URL, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const ended = new Promise<Run>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return {
    child,
    /** Its stdout once `pattern` shows in it. */
    waitFor: (pattern: RegExp) =>
      within(
        new Promise<RegExpMatchArray>((resolve) => {
          const look = () => {
            const m = pattern.exec(stdout);
            if (m) resolve(m);
            else child.stdout.once('data', look);
          };
          look();
        }),
        20_000,
        `${pattern} on stdout`,
      ),
    ended: () =>
      within(ended, timeoutMs, `${script} ${args.join(' ')}`).catch((err: Error) => {
        child.kill('SIGKILL');
        throw err;
      }),
  };
}

describe('the CLI commands, as a user runs them', () => {
  let rig: Rig;
  let env: Record<string, string>;
  afterEach(async () => {
    killAllCliWorkers();
    await rig.close();
  });
  beforeEach(async () => {
    rig = await createRig('cmd', { delivery: SIM, price: 0.25 });
    env = {
      VIBER_QUEUE: rig.queueName,
      ALPHASMS_URL: rig.sandbox.url,
      ALPHASMS_API_KEY: rig.apiKey,
    };
  });

  it('npm run demo sends the example campaign through a sandbox and leaves its queue removed', async () => {
    const demo = run(DEMO, [], { LOG_LEVEL: 'warn' }, 120_000);
    const r = await demo.ended();
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Enqueued 1000 messages from examples/campaign.csv (0 rejected)');
    expect(r.stdout).toContain(
      '1000 messages, 1000 accepted by the gateway, 1000 distinct msg_ids',
    );
    // Every outcome reached the demo's receiver signed: verified, none refused.
    const hooks = /^Webhooks: (\d+) signed events verified by the demo's receiver \((.*)\)$/m.exec(
      r.stdout,
    );
    expect(hooks?.[2]).toContain('message.accepted 1000');
    expect(hooks?.[2]).toContain('campaign.finished 1');
    const queue = /queue (viber-demo-\w+)/.exec(r.stdout)?.[1];
    expect(queue).toBeDefined();
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.keys(`*${queue as string}*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('npm run demo with no Redis starts its own, and a Ctrl-C stops that redis-server with the demo', async () => {
    // Nothing answers on port 1: the demo starts a private redis-server.
    const demo = run(DEMO, [], { REDIS_URL: 'redis://127.0.0.1:1', LOG_LEVEL: 'warn' });
    const [, port] = await demo.waitFor(/starting redis-server on port (\d+)/);
    const url = `redis://127.0.0.1:${port as string}`;
    await waitFor(() => redisAnswers(url), 'the private redis-server to answer');
    demo.child.kill('SIGINT'); // to the demo alone, not its process group
    expect((await demo.ended()).code).toBe(130);
    await waitFor(async () => !(await redisAnswers(url)), 'the private redis-server to stop', 5000);
  });

  it('viber-bulk sandbox speaks the protocol until SIGTERM, then reports what it took', async () => {
    const sb = run(CLI, ['sandbox', '--port', '0', '--api-key', 'k1'], {});
    const [, url] = await sb.waitFor(/listening at (\S+)\n/);
    const msgs = sampleMessages(3, 1);
    const res = await fetch(url as string, { method: 'POST', body: buildSendPackage('k1', msgs) });
    const answer = parseSendAnswer(await res.text(), [1, 2, 3]);
    expect(answer.kind === 'results' && [...answer.results.values()].map((m) => m.code)).toEqual([
      1, 1, 1,
    ]);
    const bad = await fetch(url as string, { method: 'POST', body: buildSendPackage('k2', msgs) });
    expect(parseSendAnswer(await bad.text(), [1])).toEqual({ kind: 'package-error', code: 202 });
    sb.child.kill('SIGTERM');
    const r = await sb.ended();
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('sandbox stopped: 3 accepted, 0 duplicates, 0 rejected');
  });

  it('viber-bulk dashboard serves bull-board for the queue, behind basic auth when asked', async () => {
    const dash = run(CLI, ['dashboard', '--port', '0'], {
      ...env,
      DASHBOARD_USER: 'ops',
      DASHBOARD_PASSWORD: 's3cret',
    });
    const [, url] = await dash.waitFor(/dashboard at (\S+) \(basic auth\)\n/);
    expect((await fetch(url as string)).status).toBe(401);
    const auth = `Basic ${Buffer.from('ops:s3cret').toString('base64')}`;
    const page = await fetch(url as string, { headers: { authorization: auth } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>');
    const api = await fetch(new URL('queues/api/queues', url as string), {
      headers: { authorization: auth },
    });
    expect(JSON.stringify(await api.json())).toContain(rig.queueName);
    dash.child.kill('SIGTERM');
    expect((await dash.ended()).code).toBe(0);
  });

  it('status and results show what became of each message after acceptance; balance asks the account', async () => {
    await rig.producer.enqueue('d', sampleMessages(40, 1));
    const w = startCliWorker(rig, [
      '--track-after-ms',
      '100',
      '--track-max-interval-ms',
      '200',
      '--read-window-ms',
      '1500',
    ]);
    const status = async () =>
      JSON.parse((await run(CLI, ['status', '--campaign', 'd', '--json'], env).ended()).stdout) as {
        completed: number;
        delivery: Record<string, unknown>;
      };
    let s = await status();
    const until = Date.now() + 30_000;
    while ((s.completed < 40 || s.delivery['tracking'] !== 0) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 300));
      s = await status();
    }
    // The oracle: each message's fate as the sandbox gateway decided it.
    const final = new Map(
      [...rig.sandbox.accepted.values()].map((a) => {
        const f = fateOf(a.id, a.at, SIM);
        return [a.id, f.readAt !== undefined ? 116 : f.finalCode];
      }),
    );
    const count = (p: (c: number) => boolean) => [...final.values()].filter(p).length;
    const byStatus: Record<string, number> = {};
    for (const c of final.values()) byStatus[c] = (byStatus[c] ?? 0) + 1;
    expect(s.delivery).toEqual({
      tracking: 0,
      delivered: count((c) => c === 102 || c === 116),
      read: count((c) => c === 116),
      undelivered: count((c) => c !== 102 && c !== 116),
      unknown: 0,
      byStatus,
      until: null, // tracking over
    });
    const human = (await run(CLI, ['status', '--campaign', 'd'], env).ended()).stdout;
    expect(human).toContain(
      `delivery   accepted 40 → delivered ${count((c) => c === 102 || c === 116)}`,
    );
    const rows = (await run(CLI, ['results', '--campaign', 'd'], env).ended()).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toHaveLength(40);
    for (const r of rows) {
      const code = final.get(r['id'] as number);
      expect({ id: r['id'], deliveryCode: r['deliveryCode'] }).toEqual({
        id: r['id'],
        deliveryCode: code,
      });
      const names: Record<number, string> = {
        102: 'DELIVERED',
        116: 'READ',
        105: 'UNDELIVERABLE',
        108: 'REJECTED',
      };
      expect(r['delivery']).toBe(names[code as number]);
      if (code === 102 || code === 116) expect(r['deliveredAt']).toMatch(/^\d{4}-.*Z$/);
      else expect(r['deliveredAt']).toBeNull();
    }
    const b = await run(CLI, ['balance', '--json'], env).ended();
    expect(JSON.parse(b.stdout)).toEqual({ amount: 1000 - 40 * 0.25, currency: 'UAH' });
    w.child.kill('SIGTERM');
    expect((await w.exited()).code).toBe(0);
  });

  it('a worker whose account cannot send (bad key) stops with exit code 3, leaving the messages queued', async () => {
    await rig.producer.enqueue('c', sampleMessages(10, 1));
    const w = startCliWorker(rig, [], REDIS_URL, { ALPHASMS_API_KEY: 'not-the-key' });
    const { code } = await w.exited(20_000);
    expect(code).toBe(3);
    expect(w.logs()).toContain('ERR_AUTHORIZATION');
    expect(w.logs()).not.toContain('not-the-key');
    expect(await rig.inspector.counts('c')).toMatchObject({ waiting: 10, completed: 0, failed: 0 });
  });

  it('refuses at start-up a gateway timeout that is not below the job lock (exit 2, naming both)', async () => {
    const r = await run(
      CLI,
      ['worker', '--timeout-ms', '20000', '--lock-duration-ms', '15000'],
      env,
    ).ended();
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'gateway.timeoutMs (20000) must be less than lockDuration (15000): raise lockDuration or lower the timeout',
    );
  });

  it('viber-bulk purge removes a campaign and says how many messages went (--json)', async () => {
    await rig.producer.enqueue('p', sampleMessages(25, 1));
    const refused = await run(CLI, ['purge', '--campaign', 'p'], env).ended();
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('campaign p is not finished (25 waiting)');
    const r = await run(CLI, ['purge', '--campaign', 'p', '--force', '--json'], env).ended();
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ campaign: 'p', removed: 25 });
    expect(await messageCounts(rig.queue, 'wait')).toEqual({ wait: 0 });
    const none = await run(CLI, ['purge'], env).ended();
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('purge needs --campaign <name> or --older-than <duration>');
    const bad = await run(CLI, ['purge', '--older-than', '5x'], env).ended();
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      '--older-than must be a duration like 30d, 12h, 90m or 45s (got 5x)',
    );
    // A campaign cancelled whole is finished: --older-than 0s takes it.
    await rig.producer.enqueue('q', sampleMessages(5, 100));
    await rig.producer.cancel('q');
    const old = await run(CLI, ['purge', '--older-than', '0s', '--json'], env).ended();
    expect(
      old.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([{ campaign: 'q', removed: 5 }]);
  });

  it('enqueue --expires and schedule set a deadline; a bad one is refused naming the flag', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vb-cmd-'));
    try {
      const file = join(dir, 'c.csv');
      await writeFile(file, 'id,phone,text\n1,+380971234567,hi\n');
      const bad = await run(
        CLI,
        ['enqueue', '--campaign', 'e', '--file', file, '--sender', 'S', '--expires', 'tomorrow'],
        env,
      ).ended();
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--expires must be an ISO 8601 time');
      const past = await run(
        CLI,
        [
          'enqueue',
          '--campaign',
          'e',
          '--file',
          file,
          '--sender',
          'S',
          '--expires',
          '2020-01-01T00:00:00Z',
        ],
        env,
      ).ended();
      expect(past.code).toBe(2);
      expect(past.stderr).toContain('expires is already in the past (2020-01-01T00:00:00.000Z)');
      expect(await messageCounts(rig.queue, 'wait')).toEqual({ wait: 0 });
      const ok = await run(
        CLI,
        ['enqueue', '--campaign', 'e', '--file', file, '--sender', 'S', '--expires', '2h'],
        env,
      ).ended();
      expect(ok.code).toBe(0);
      const s = await run(
        CLI,
        ['schedule', '--campaign', 'e', '--expires', '2030-06-01T10:00:00+03:00', '--json'],
        env,
      ).ended();
      expect(JSON.parse(s.stdout)).toEqual({
        campaign: 'e',
        at: null,
        window: null,
        tz: null,
        expires: '2030-06-01T07:00:00.000Z',
        priority: 'normal',
        weight: 1,
        campaignRate: null,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('timing flags: refused naming the flag with nothing enqueued; set on enqueue, changed by schedule, shown by status and campaigns', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vb-cmd-'));
    try {
      const file = join(dir, 'k.csv');
      await writeFile(file, 'id,phone,text\n1,+380971234567,hi\n2,+380971234568,hi\n');
      const base = ['enqueue', '--campaign', 'kyiv', '--file', file, '--sender', 'S'];
      for (const [flags, message] of [
        [
          ['--window', '10:00-20:00', '--tz', 'Europe/Kiyv'],
          '--tz: Europe/Kiyv is not a time zone',
        ],
        [['--window', '25:00-08:00'], '--window: 25:00 is not a time of day'],
        [['--at', 'next monday'], '--at must be an ISO 8601 time'],
        [['--priority', 'urgent'], '--priority must be one of high, normal, low'],
      ] as const) {
        const bad = await run(CLI, [...base, ...flags], env).ended();
        expect({ code: bad.code, stderr: bad.stderr }).toEqual({
          code: 2,
          stderr: expect.stringContaining(message),
        });
      }
      expect(await rig.inspector.campaigns()).toEqual([]);
      const ok = await run(
        CLI,
        [
          ...base,
          '--window',
          '10:00-20:00',
          '--tz',
          'Europe/Kyiv',
          '--expires',
          '2d',
          '--priority',
          'low',
        ],
        env,
      ).ended();
      expect(ok.code).toBe(0);
      const s = await run(
        CLI,
        ['schedule', '--campaign', 'kyiv', '--window', '09:00-21:00', '--weight', '3', '--json'],
        env,
      ).ended();
      expect(JSON.parse(s.stdout)).toMatchObject({
        window: '09:00-21:00',
        tz: 'Europe/Kyiv',
        priority: 'low',
        weight: 3,
        expires: expect.stringMatching(/^\d{4}-/),
      });
      const status = await run(CLI, ['status', '--campaign', 'kyiv', '--json'], env).ended();
      expect(JSON.parse(status.stdout)).toMatchObject({
        total: 2,
        scheduled: 0,
        schedule: { window: '09:00-21:00', tz: 'Europe/Kyiv', priority: 'low', weight: 3 },
      });
      const all = await run(CLI, ['campaigns', '--json'], env).ended();
      expect(JSON.parse(all.stdout)).toEqual([
        expect.objectContaining({
          campaign: 'kyiv',
          schedule: expect.objectContaining({ priority: 'low' }),
        }),
      ]);
      const none = await run(CLI, ['schedule', '--campaign', 'kyiv'], env).ended();
      expect(none.code).toBe(2);
      expect(none.stderr).toContain('schedule needs at least one of --at');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('takes a CSV column over the matching flag, and the flag where the cell is blank', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vb-cmd-'));
    try {
      const file = join(dir, 'c.csv');
      await writeFile(
        file,
        'id,phone,text,sender,type,image\n' +
          '1,+380971234567,row text,RowShop,image,https://x.example/row.png\n' +
          '2,+380971234568,,,,\n',
      );
      const r = await run(
        CLI,
        [
          'enqueue',
          '--campaign',
          'cols',
          '--file',
          file,
          '--sender',
          'FlagShop',
          '--text',
          'flag text',
        ],
        env,
      ).ended();
      expect(r.code).toBe(0);
      // A job keeps its own fields and names the campaign's shared set for the rest.
      expect(await wholeMessage(rig.queue, 1)).toEqual({
        id: 1,
        phone: '+380971234567',
        sender: 'RowShop',
        type: 'image',
        text: 'row text',
        image: 'https://x.example/row.png',
      });
      expect(await wholeMessage(rig.queue, 2)).toEqual({
        id: 2,
        phone: '+380971234568',
        sender: 'FlagShop',
        type: 'text',
        text: 'flag text',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
