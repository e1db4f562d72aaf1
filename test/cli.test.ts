import { spawn } from 'node:child_process';
import type { FinishedRecord } from '../src/job.js';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import Papa from 'papaparse';
import { CLI, runCli } from './cli-run.js';
import { createRig, type Rig } from './fixture.js';
import {
  REDIS_URL,
  sampleMessages,
  waitFor,
  wholeMessage,
  within,
  messageCounts,
} from './helpers.js';

/** Runs one CLI command to its end (test/cli-run.ts). */
const cli = runCli;

/** A well-formed mobile number the sandbox refuses with 203, as the gateway may. */
const REFUSED = '+380661234567';

const lastJson = (s: string): unknown => JSON.parse(s.trim().split('\n').pop() as string);

describe('the viber-bulk command', () => {
  let rig: Rig;
  let env: Record<string, string>;
  let dir: string;

  beforeEach(async () => {
    rig = await createRig('cli', { codeFor: (m) => (m.phone === REFUSED ? 203 : undefined) });
    env = {
      VIBER_QUEUE: rig.queueName,
      ALPHASMS_URL: rig.sandbox.url,
      ALPHASMS_API_KEY: rig.apiKey,
    };
    dir = await mkdtemp(join(tmpdir(), 'vb-cli-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
    await rig.close();
  });

  it('enqueues a CSV, reports rejected rows by line, and exits 1 when some were rejected', async () => {
    const file = join(dir, 'c.csv');
    await writeFile(
      file,
      'id,phone,text\n1,+380971234567,Hello "you"\n2,+380971234568,\n3,+3809712,Hi\nx,+380971234569,Hi\n1,+380971234567,again\n4,097 123 45 70,Hi\n',
    );
    const r = await cli(
      ['enqueue', '--campaign', 'spring', '--file', file, '--sender', 'Shop', '--json'],
      env,
    );
    expect(r.code).toBe(1);
    expect(lastJson(r.stdout)).toEqual({
      campaign: 'spring',
      dryRun: false,
      enqueued: 2,
      suppressed: 0,
      duplicates: 1,
      duplicateRows: [{ line: 6, id: 1, of: 'input' }],
      phonesRewritten: 1,
      sms: { messages: 0, segments: 0, bySegments: {} }, // no fallback text
      rejected: [
        { line: 3, id: '2', errors: [{ field: 'text', rule: 'is required' }] },
        {
          line: 4,
          id: '3',
          errors: [{ field: 'phone', rule: 'is too short for a mobile number' }],
        },
        { line: 5, id: 'x', errors: [{ field: 'id', rule: 'must be a positive integer' }] },
      ],
    });
    const s = await cli(['status', '--campaign', 'spring', '--json'], env);
    expect(s.code).toBe(0);
    expect(lastJson(s.stdout)).toEqual({
      campaign: 'spring',
      total: 2,
      waiting: 2,
      active: 0,
      delayed: 0,
      completed: 0,
      failed: 0,
      paused: 0,
      cancelled: 0,
      expired: 0,
      suppressed: 0,
      scheduled: 0,
      control: null,
      schedule: {
        at: null,
        window: null,
        tz: null,
        expires: null,
        priority: 'normal',
        weight: 1,
        campaignRate: null,
      },
      opensAt: null,
      byStatus: {},
      delivery: {
        tracking: 0,
        delivered: 0,
        read: 0,
        undelivered: 0,
        unknown: 0,
        byStatus: {},
        until: null,
      },
      sms: {
        total: 0,
        waiting: 0,
        paused: 0,
        sent: 0,
        failed: 0,
        unsent: 0,
        tracking: 0,
        delivered: 0,
        undelivered: 0,
        unknown: 0,
        byStatus: {},
      },
    });
  });

  it('prints its version', async () => {
    const { version } = JSON.parse(
      await readFile(new URL('../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    const r = await cli(['--version'], env);
    expect(r).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('stops quietly with status 0 when the reader of its output goes away (results | head -3)', async () => {
    await rig.producer.enqueue('big', sampleMessages(500, 1));
    const child = spawn(process.execPath, [CLI, 'results', '--campaign', 'big'], {
      env: { ...process.env, REDIS_URL, ...env },
    });
    // The reader leaves before the command writes (a pipe holds more than `head` reads, so
    // leaving after the first lines may come after the last write): every write now fails.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const code = await Promise.race([exited, sleep(15_000).then(() => 'hung' as const)]);
    if (code === 'hung') child.kill('SIGKILL');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });

  it('reads NDJSON from stdin and exits 0 when every row is enqueued', async () => {
    const rows = [1, 2, 3]
      .map((id) =>
        JSON.stringify({
          id,
          phone: `+38097123456${id}`,
          text: 'hi',
          image: 'https://x.example/a.jpg',
        }),
      )
      .join('\n');
    const r = await cli(
      [
        'enqueue',
        '--campaign',
        'nd',
        '--file',
        '-',
        '--format',
        'ndjson',
        '--sender',
        'Shop',
        '--json',
      ],
      env,
      rows,
    );
    expect(r.code).toBe(0);
    expect(lastJson(r.stdout)).toMatchObject({ enqueued: 3, duplicates: 0, rejected: [] });
    // --image was not given, but the rows carry one: the type defaults to text unless --type says so.
    expect(await wholeMessage(rig.queue, 1)).toEqual({
      id: 1,
      phone: '+380971234561',
      sender: 'Shop',
      type: 'text',
      text: 'hi',
    });
  });

  it('rejects an NDJSON line over --max-row-chars with its line number, reads on, and enqueues the rest whole', async () => {
    const long = JSON.stringify({ id: 9, phone: '+380971234569', text: 'x'.repeat(5000) });
    const rows = [
      JSON.stringify({ id: 7, phone: '+380971234567', text: 'hi' }),
      long,
      JSON.stringify({ id: 8, phone: '+380971234568', text: 'hi' }),
    ].join('\n');
    const r = await cli(
      [
        'enqueue',
        '--campaign',
        'cap',
        '--file',
        '-',
        '--format',
        'ndjson',
        '--sender',
        'Shop',
      ].concat(['--max-row-chars', '1000', '--json']),
      env,
      rows,
    );
    expect(r.code).toBe(1);
    const report = lastJson(r.stdout) as {
      enqueued: number;
      rejected: Array<{ line: number; errors: Array<{ field: string; rule: string }> }>;
    };
    expect(report.enqueued).toBe(2);
    expect(report.rejected).toEqual([
      expect.objectContaining({
        line: 2,
        errors: [{ field: '(row)', rule: expect.stringContaining('over 1000 characters') }],
      }),
    ]);
    expect(await rig.inspector.counts('cap')).toMatchObject({ total: 2, waiting: 2 });
    expect(r.stdout).not.toContain('x'.repeat(200));
  });

  it('enqueue --dry-run reports new, duplicate and rejected rows, names the duplicates, and writes nothing', async () => {
    await rig.producer.enqueue('dry', sampleMessages(2, 1));
    const file = join(dir, 'dry.csv');
    await writeFile(
      file,
      'id,phone,text\n1,+380971234561,hi\n5,+380971234565,hi\n5,+380971234565,again\n6,+3809712,hi\n',
    );
    const args = ['enqueue', '--campaign', 'dry', '--file', file, '--sender', 'Shop'];
    const r = await cli([...args, '--dry-run'], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('duplicate line 2 (id 1): already on this queue\n');
    expect(r.stdout).toContain('duplicate line 4 (id 5): an earlier row has it\n');
    expect(r.stdout).toContain(
      'campaign dry: 1 would be enqueued (dry run: nothing written), 2 duplicate, 1 rejected',
    );
    expect(await rig.inspector.counts('dry')).toMatchObject({ total: 2, waiting: 2 });
    const json = lastJson((await cli([...args, '--dry-run', '--json'], env)).stdout);
    // The same file for real: what the dry run said, but written.
    const real = lastJson((await cli([...args, '--json'], env)).stdout);
    expect(json).toEqual({ ...(real as object), dryRun: true });
    expect(await rig.inspector.counts('dry')).toMatchObject({ total: 3, waiting: 3 });
  });

  it('campaigns shows a sent campaign still tracked as tracking, with until when, as purge says', async () => {
    await rig.producer.enqueue('tracked', sampleMessages(5, 1));
    await rig.startWorker({ trackAfterMs: 60_000 });
    const c = await rig.producer.waitUntilFinished('tracked', { timeoutMs: 30_000 });
    const until = new Date(c.delivery.until as number).toISOString();
    const r = await cli(['campaigns'], env);
    expect(r.stdout).toMatch(
      new RegExp(`^tracked +5 total +5 completed +0 failed  tracking until ${until} `, 'm'),
    );
    const p = await cli(['purge', '--campaign', 'tracked'], env);
    expect(p.code).toBe(2);
    expect(p.stderr).toContain(`until ${until} at the latest`);
  });

  it('prints rejected ids with their control characters escaped, and reports a non-scalar id instead of crashing', async () => {
    const rows = [
      JSON.stringify({
        id: '\u001b[2J\u001b[31mred\nrejected line 99: forged\u202e',
        phone: '+380971234561',
      }),
      JSON.stringify({ id: { toString: 1, valueOf: 1 }, phone: '+380971234562' }),
      JSON.stringify({ id: 3, phone: '+380971234563' }),
    ].join('\n');
    const r = await cli(
      [
        'enqueue',
        '--campaign',
        'ctl',
        '--file',
        '-',
        '--format',
        'ndjson',
        '--sender',
        'Shop',
      ].concat(['--text', 'hi']),
      env,
      rows,
    );
    expect(r.code).toBe(1);
    // Nothing from the file reaches the terminal raw: no ESC, no forged line, no bidi override.
    expect(r.stdout + r.stderr).not.toContain('\u001b');
    expect(r.stdout + r.stderr).not.toContain('\u202e');
    expect(r.stdout).not.toMatch(/^rejected line 99/m);
    expect(r.stdout).toContain(
      'rejected line 1 (id \\x1b[2J\\x1b[31mred\\nrejected line 99: forged\\u202e): id: must be a positive integer',
    );
    expect(r.stdout).toContain('rejected line 2 (id (object)): id: must be a positive integer');
    expect(r.stdout).toContain('1 enqueued, 0 duplicate, 2 rejected');
  });

  it('exits 2 with a message naming the problem for usage, configuration and connection errors', async () => {
    const cases: Array<[string[], Record<string, string>, string]> = [
      [['enqueue', '--campaign', 'c', '--file', join(dir, 'missing.csv')], env, '--file'],
      [
        ['status', '--campaign', 'c'],
        { ...env, REDIS_URL: 'redis://127.0.0.1:1' },
        'redis://127.0.0.1:1',
      ],
      [['worker'], { ...env, ALPHASMS_API_KEY: '' }, 'ALPHASMS_API_KEY'],
      [['worker', '--batch-size', '0'], env, '--batch-size'],
      [['results', '--campaign', 'c', '--format', 'xml'], env, '--format'],
      [['status'], env, '--campaign'],
    ];
    for (const [args, e, needle] of cases) {
      const r = await cli(args, e);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(needle);
    }
    // A usage error: the error and the one-line usage, not the whole help.
    const usage = await cli(['enqueue', '--campaign', 'c'], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr.trim().split('\n')).toEqual([
      "error: required option '--file <path>' not specified",
      'usage: viber-bulk enqueue --campaign <name> --file <path> [options]  (viber-bulk enqueue --help lists them)',
    ]);
    const bad = join(dir, 'bad.csv');
    await writeFile(bad, 'id,telephone\n1,2\n');
    const r = await cli(['enqueue', '--campaign', 'c', '--file', bad], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'line 1: CSV header: missing column(s) phone; unknown column(s) telephone',
    );
  });

  it('steers campaigns: pause, resume, cancel, retry-failed, campaigns, status --watch', async () => {
    await rig.producer.enqueue('steer', sampleMessages(30, 1));
    await rig.producer.enqueue('other', sampleMessages(5, 101));
    expect((await cli(['pause', '--campaign', 'steer'], env)).stdout).toContain(
      'paused (30 messages held)',
    );
    expect(
      lastJson((await cli(['status', '--campaign', 'steer', '--json'], env)).stdout),
    ).toMatchObject({ paused: 30, control: 'paused' });
    expect((await cli(['resume', '--campaign', 'steer'], env)).stdout).toContain(
      'resumed (30 messages',
    );
    // The same with --json, as cancel and retry-failed take it.
    const pausedJson = await cli(['pause', '--campaign', 'steer', '--json'], env);
    expect(lastJson(pausedJson.stdout)).toEqual({ campaign: 'steer', paused: 30 });
    const resumedJson = await cli(['resume', '--campaign', 'steer', '--json'], env);
    expect(lastJson(resumedJson.stdout)).toEqual({ campaign: 'steer', resumed: 30 });
    const cancel = await cli(['cancel', '--campaign', 'steer', '--json'], env);
    expect(lastJson(cancel.stdout)).toEqual({ campaign: 'steer', cancelled: 30 });
    const retry = await cli(
      ['retry-failed', '--campaign', 'other', '--codes', '206,207', '--json'],
      env,
    );
    expect(lastJson(retry.stdout)).toEqual({ campaign: 'other', retried: 0 });
    const all = lastJson((await cli(['campaigns', '--json'], env)).stdout) as Array<
      Record<string, unknown>
    >;
    expect(all.map((c) => [c['campaign'], c['total'], c['cancelled'], c['control']])).toEqual([
      ['steer', 30, 30, 'cancelled'],
      ['other', 5, 0, null],
    ]);
    // The cancelled campaign is done: --watch draws once and returns.
    const watch = await cli(['status', '--campaign', 'steer', '--watch'], env);
    expect(watch.code).toBe(0);
    expect(watch.stdout).toContain('30/30');
    const bad = await cli(['retry-failed', '--campaign', 'other', '--codes', 'x'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--codes must be status codes');
    expect((await cli(['pause', '--campaign', 'nope'], env)).stderr).toContain(
      'campaign nope has no messages on this queue',
    );
    // Every command that names an unknown campaign says so the same way, with exit 2.
    for (const args of [
      ['pause'],
      ['status'],
      ['status', '--json'],
      ['status', '--watch'],
      ['results'],
      ['results', '--format', 'csv'],
    ]) {
      const r = await cli([...args, '--campaign', 'nope'], env);
      expect([args.join(' '), r.code, r.stdout]).toEqual([args.join(' '), 2, '']);
      expect(r.stderr).toContain('campaign nope has no messages on this queue');
    }
  });

  it('runs a campaign through the worker and exports one row per message, with no trace of the API key anywhere', async () => {
    const file = join(dir, 'c.csv');
    const lines = ['id,phone,text,image'];
    // Row 7 goes to a number the gateway refuses; row 8's number is written as people write it.
    const phone = (i: number) =>
      i === 7
        ? REFUSED
        : i === 8
          ? '"+38 (097) 123-45-08"'
          : `+3809712345${String(i).padStart(2, '0')}`;
    for (let i = 1; i <= 60; i++)
      lines.push(`${i},${phone(i)},Привіт ${i},https://x.example/p.png`);
    await writeFile(file, lines.join('\n') + '\n');
    expect(
      (await cli(['enqueue', '--campaign', 'run', '--file', file, '--sender', 'Shop'], env)).code,
    ).toBe(0);

    const worker = spawn(process.execPath, [CLI, 'worker', '--batch-size', '25'], {
      env: { ...process.env, REDIS_URL, ...env, LOG_LEVEL: 'trace' },
    });
    let logs = '';
    worker.stdout.on('data', (d: Buffer) => (logs += d.toString()));
    worker.stderr.on('data', (d: Buffer) => (logs += d.toString()));
    try {
      await waitFor(
        async () => (await messageCounts(rig.queue, 'completed', 'failed')).completed === 59,
        'the campaign to be sent',
      );
    } catch (err) {
      worker.kill('SIGKILL'); // never leave a worker behind a failed test
      throw err;
    }
    const exited = new Promise((resolve) => worker.on('exit', resolve));
    worker.kill('SIGTERM');
    try {
      expect(await within(exited, 15_000, 'the worker to drain and exit')).toBe(0);
    } finally {
      if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    }
    expect(logs).toContain('batch sent');

    const status = lastJson((await cli(['status', '--campaign', 'run', '--json'], env)).stdout);
    expect(status).toMatchObject({
      total: 60,
      completed: 59,
      failed: 1,
      byStatus: { '1': 59, '203': 1 },
    });

    const nd = await cli(['results', '--campaign', 'run', '--format', 'ndjson'], env);
    const rows = nd.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toHaveLength(60);
    expect(Object.keys(rows[0] ?? {})).toEqual([
      'id',
      'phone',
      'state',
      'msgId',
      'statusCode',
      'status',
      'attempts',
      'error',
      'deliveryCode',
      'delivery',
      'deliveredAt',
      'readAt',
      'sms',
    ]);
    const seven = rows.find((r) => r['id'] === 7);
    expect(seven).toEqual({
      id: 7,
      phone: REFUSED,
      state: 'failed',
      msgId: null,
      statusCode: 203,
      status: 'ERR_RECIPIENT',
      attempts: 1,
      error: '203 ERR_RECIPIENT: incorrect recipient number',
      deliveryCode: null,
      delivery: null,
      deliveredAt: null,
      readAt: null,
      sms: null, // no fallback text: no SMS
    });
    // The number as sent: rewritten to international form at enqueue.
    expect(rows.find((r) => r['id'] === 8)).toMatchObject({
      phone: '+380971234508',
      state: 'completed',
    });
    expect(rig.sandbox.accepted.get(8)?.message?.phone).toBe('+380971234508');
    const one = rows.find((r) => r['id'] === 1);
    expect(one).toMatchObject({
      state: 'completed',
      statusCode: 1,
      status: 'OK',
      msgId: rig.sandbox.accepted.get(1)?.msgId,
      attempts: 1,
      error: null,
    });

    const csv = await cli(['results', '--campaign', 'run', '--format', 'csv'], env);
    const csvLines = csv.stdout.trim().split('\n');
    expect(csvLines[0]).toBe(
      'id,phone,state,msgId,statusCode,status,attempts,error,deliveryCode,delivery,deliveredAt,readAt,sms_msg_id,sms_status,sms_delivery',
    );
    expect(csvLines).toHaveLength(61);

    // CSV quoting: a failure reason with a comma, quotes and a line break (as a gateway or proxy
    // error text may hold) comes back intact, read by another CSV reader (Papa Parse), and every
    // row says what the NDJSON export says.
    const tricky = 'gateway said: "no, not now",\nthen\r\nnothing';
    const r = new Redis(REDIS_URL);
    // Where results read it: the message's finished record.
    const doneKey = `bull:${rig.queueName}:vb:done`;
    const rec = JSON.parse((await r.hget(doneKey, '7')) ?? '{}') as FinishedRecord;
    expect(rec.failed?.reason).toBe('203 ERR_RECIPIENT: incorrect recipient number');
    /** Message 7's failure reason, as a gateway or proxy might have worded it. */
    const failWith = (reason: string) =>
      r.hset(doneKey, '7', JSON.stringify({ ...rec, failed: { ...rec.failed, reason } }));
    await failWith(tricky);
    const [nd2, csv2] = await Promise.all([
      cli(['results', '--campaign', 'run', '--format', 'ndjson'], env),
      cli(['results', '--campaign', 'run', '--format', 'csv', '--raw'], env),
    ]);
    const parsed = Papa.parse<Record<string, string>>(csv2.stdout, {
      header: true,
      skipEmptyLines: true,
    });
    expect(parsed.errors).toEqual([]);
    const asText = (v: unknown) => (v === null ? '' : String(v));
    const fromNdjson = nd2.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      // The NDJSON's sms object is the CSV's three sms_ cells.
      .map(({ sms, ...o }) => {
        const s = sms as { msgId: number; state: string; delivery: string } | null;
        return { ...o, sms_msg_id: s?.msgId, sms_status: s?.state, sms_delivery: s?.delivery };
      })
      .map((o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, asText(v ?? null)])));
    expect(parsed.data).toEqual(fromNdjson);
    expect(parsed.data.find((row) => row['id'] === '7')?.['error']).toBe(tricky);

    // Without --raw, no cell can start a spreadsheet formula: a failure reason from the gateway
    // that opens with = (and every phone's +) comes out quoted with a leading '.
    await failWith('=HYPERLINK("http://x")');
    const guarded = Papa.parse<Record<string, string>>(
      (await cli(['results', '--campaign', 'run', '--format', 'csv'], env)).stdout,
      { header: true, skipEmptyLines: true },
    );
    expect(guarded.data.find((row) => row['id'] === '7')?.['error']).toBe(
      `'=HYPERLINK("http://x")`,
    );
    for (const row of guarded.data) {
      for (const cell of Object.values(row)) expect(cell).not.toMatch(/^[=+\-@]/);
    }

    // Nor does a reason's control character reach a terminal raw: escaped, unless --raw.
    const ansi = 'proxy: \u001b[2Jcleared\u0007';
    await failWith(ansi);
    const [shown, raw] = await Promise.all([
      cli(['results', '--campaign', 'run', '--format', 'csv'], env),
      cli(['results', '--campaign', 'run', '--format', 'csv', '--raw'], env),
    ]);
    expect(shown.stdout).not.toContain('\u001b');
    expect(shown.stdout).toContain('proxy: \\x1b[2Jcleared\\x07');
    expect(raw.stdout).toContain(ansi);
    r.disconnect();

    // The key: not in logs (trace level), exports, or anywhere in Redis, keys or values.
    expect(logs).not.toContain(rig.apiKey);
    expect(nd.stdout + csv.stdout).not.toContain(rig.apiKey);
    expect(await redisDump(rig.queueName)).not.toContain(rig.apiKey);
  });
});

/** Every key of a queue and every value in it, as one string. */
async function redisDump(queueName: string): Promise<string> {
  const r = new Redis(REDIS_URL);
  let out = '';
  try {
    for await (const keys of r.scanStream({
      match: `bull:${queueName}:*`,
      count: 500,
    }) as AsyncIterable<string[]>) {
      for (const k of keys) {
        out += k + '\n';
        const type = await r.type(k);
        if (type === 'string') out += await r.get(k);
        else if (type === 'hash') out += JSON.stringify(await r.hgetall(k));
        else if (type === 'list') out += JSON.stringify(await r.lrange(k, 0, -1));
        else if (type === 'set') out += JSON.stringify(await r.smembers(k));
        else if (type === 'zset') out += JSON.stringify(await r.zrange(k, 0, -1));
        else if (type === 'stream') out += JSON.stringify(await r.xrange(k, '-', '+'));
      }
    }
  } finally {
    r.disconnect();
  }
  expect(out.length).toBeGreaterThan(1000); // it did read the campaign
  return out;
}
