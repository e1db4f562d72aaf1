import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { redisAnswers } from '../src/redis.js';
import { createWorker } from '../src/worker/send-worker.js';
import { createLogger } from '../src/cli/log.js';
import { WorkerMetrics } from '../src/worker/metrics.js';
import { createRig, type Rig } from './fixture.js';
import { sampleMessages, waitFor, messageCounts } from './helpers.js';

/**
 * The Prometheus text format, read strictly (the oracle is the format's rules, not prom-client):
 * every sample is `name{label="value",…} number`, no label name twice in a sample, one HELP and
 * one TYPE per family, at most once each, and no sample repeated. Returns sample → value, labels
 * sorted.
 */
function strictExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const help = new Set<string>();
  const type = new Set<string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) /.exec(line);
    if (meta) {
      const seen = meta[1] === 'HELP' ? help : type;
      if (seen.has(meta[2] as string)) throw new Error(`${meta[1]} twice for ${meta[2]}`);
      seen.add(meta[2] as string);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/.exec(line);
    if (!m) throw new Error(`not a sample: ${line}`);
    const labels: string[] = [];
    const names = new Set<string>();
    const body = m[2] ?? '';
    const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;
    let at = 0;
    while (at < body.length) {
      re.lastIndex = at;
      const l = re.exec(body);
      if (!l) throw new Error(`bad labels: ${line}`);
      if (names.has(l[1] as string)) throw new Error(`label ${l[1]} twice: ${line}`);
      names.add(l[1] as string);
      labels.push(`${l[1]}="${l[2]}"`);
      at = re.lastIndex;
    }
    const key = labels.length ? `${m[1]}{${labels.sort().join(',')}}` : (m[1] as string);
    if (out.has(key)) throw new Error(`sample twice: ${key}`);
    out.set(key, Number(m[3]));
  }
  return out;
}

describe('worker metrics and logs', () => {
  let rig: Rig;
  let metrics: WorkerMetrics | undefined;
  afterEach(async () => {
    await metrics?.close();
    await rig.close();
  });

  it('serves Prometheus metrics: outcomes, status codes, batch sizes, gateway latency, throttling, queue depth', async () => {
    // Four messages to a number the gateway refuses (203) though it is a well-formed mobile one.
    const refused = '+380661234567';
    rig = await createRig('metrics', { codeFor: (m) => (m.phone === refused ? 203 : undefined) });
    rig.sandbox.inject({ kind: 'package-error', code: 212 }, { kind: 'http-error', status: 502 });
    const msgs = sampleMessages(40, 1).map((m, i) => (i < 4 ? { ...m, phone: refused } : m));
    await rig.producer.enqueue('m', msgs);
    const worker = await rig.startWorker({ batchSize: 10, throttleMs: 50 });
    metrics = new WorkerMetrics(worker);
    // Loopback unless told otherwise.
    const port = await metrics.listen(0);
    expect(metrics.address).toMatchObject({ address: '127.0.0.1', port });
    await waitFor(
      async () => (await messageCounts(rig.queue, 'completed', 'failed')).completed === 36,
      'the campaign',
    );
    await waitFor(
      async () => (await messageCounts(rig.queue, 'failed')).failed === 4,
      'the failures',
    );

    // 40 messages in packages of 10: four package jobs, all completed (one with 203s in it).
    const jobs = await rig.queue.getJobCounts('completed', 'failed');
    expect(jobs).toEqual({ completed: 4, failed: 0 });
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('viber_bulk_messages_total{outcome="completed"} 36');
    expect(text).toContain('viber_bulk_messages_total{outcome="failed"} 4');
    expect(text).toContain('viber_bulk_gateway_codes_total{code="1"} 36');
    expect(text).toContain('viber_bulk_gateway_codes_total{code="203"} 4');
    expect(text).toContain('viber_bulk_throttled_total 1');
    expect(text).toContain('viber_bulk_gateway_retries_total 1');
    expect(text).toMatch(/viber_bulk_batch_size_count \d+/);
    expect(text).toMatch(/viber_bulk_gateway_request_seconds_count\{kind="send",result="ok"\} \d+/);
    expect(text).toContain(
      'viber_bulk_gateway_request_seconds_count{kind="send",result="GATEWAY_HTTP"} 1',
    );
    expect(text).toContain(`viber_bulk_queue_jobs{state="completed"} ${jobs['completed']}`);
    expect(text).toContain('viber_bulk_queue_jobs{state="wait"} 0');
    expect(text).toContain('viber_bulk_process_resident_memory_bytes');
    expect(text).toMatch(
      new RegExp(`bullmq_job_count\\{[^}]*state="completed"[^}]*\\} ${jobs['completed']}`),
    );
    // A strict reading of the exposition format, as Prometheus makes it: one bad sample and the
    // whole scrape is rejected.
    const samples = strictExposition(text);
    expect(samples.get(`bullmq_job_completed_total{queue="${rig.queueName}"}`)).toBe(
      jobs['completed'],
    );
    expect(samples.get(`bullmq_job_failed_total{queue="${rig.queueName}"}`)).toBe(jobs['failed']);
    expect(text).toContain('viber_bulk_queued_messages 0');
    expect(text).not.toContain(rig.apiKey);
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    // Queue depth before release: a campaign that starts tomorrow stays queued, not a job.
    await rig.producer.enqueue('later', sampleMessages(5, 101), {
      at: new Date(Date.now() + 86_400_000),
    });
    const later = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(later).toContain('viber_bulk_queued_messages 5');
    expect(later).toContain('viber_bulk_queue_jobs{state="wait"} 0');
  });

  it('keeps the code label bounded: codes the docs do not list count as one other', async () => {
    // Twenty messages answered with twenty different undocumented codes (retried, then failed).
    rig = await createRig('mcodes', {
      codeFor: (m) => (Number(m.id) <= 20 ? 900 + Number(m.id) : undefined),
    });
    await rig.producer.enqueue('m', sampleMessages(30, 1));
    const worker = await rig.startWorker({ batchSize: 10 });
    metrics = new WorkerMetrics(worker);
    await waitFor(async () => {
      const c = await rig.inspector.counts('m');
      return c.completed === 10 && c.failed === 20;
    }, 'the campaign');
    const samples = strictExposition(await metrics.text());
    const codes = [...samples.keys()]
      .filter((k) => k.startsWith('viber_bulk_gateway_codes_total{'))
      .map((k) => /code="([^"]+)"/.exec(k)?.[1]);
    expect(codes.sort()).toEqual(['1', 'other']);
    expect(samples.get('viber_bulk_gateway_codes_total{code="other"}')).toBeGreaterThanOrEqual(20);
  });

  it('exports delivery outcomes, the tracked-message gauge and the balance; warns when the balance runs low', async () => {
    // Every message delivered at once; each costs 1 off a balance of 1000.
    rig = await createRig('dmetrics', {
      price: 1,
      delivery: {
        outcomes: { 102: 0.5, 105: 0.5 },
        delayMs: [0, 0],
        readShare: 0,
        readDelayMs: [0, 0],
        seed: 5,
      },
    });
    await rig.producer.enqueue('m', sampleMessages(20, 1));
    const worker = await rig.startWorker({
      trackAfterMs: 50,
      trackMaxIntervalMs: 100,
      readWindowMs: 0,
      balanceIntervalMs: 100,
      lowBalance: 990,
    });
    metrics = new WorkerMetrics(worker);
    const low = new Promise((resolve) => worker.once('lowBalance', resolve));
    const port = await metrics.listen(0, '127.0.0.1');
    const counts = await waitFor(async () => {
      const c = await rig.inspector.counts('m');
      return c.completed === 20 && c.delivery.tracking === 0 ? c : undefined;
    }, 'tracking to end');
    expect(await low).toEqual({ amount: 980, currency: 'UAH' });
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toContain(
      `viber_bulk_delivery_total{status="delivered"} ${counts.delivery.delivered}`,
    );
    expect(text).toContain(
      `viber_bulk_delivery_total{status="undelivered"} ${counts.delivery.undelivered}`,
    );
    expect(counts.delivery.delivered + counts.delivery.undelivered).toBe(20);
    expect(text).toContain('viber_bulk_tracking_messages 0');
    expect(text).toContain('viber_bulk_balance{currency="UAH"} 980');
    expect(text).toMatch(
      /viber_bulk_gateway_request_seconds_count\{kind="status",result="ok"\} \d+/,
    );
  });

  it('warns at start-up when Redis may evict keys (maxmemory-policy is not noeviction)', async () => {
    rig = await createRig('evict');
    const port = 17_000 + Math.floor(Math.random() * 1000);
    const server = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--maxmemory-policy',
        'allkeys-lru',
      ],
      { stdio: 'ignore' },
    );
    try {
      let out = '';
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          out += chunk.toString();
          done();
        },
      });
      const url = `redis://127.0.0.1:${port}`;
      await waitFor(() => redisAnswers(url), 'the private redis-server');
      const w = await createWorker({
        connection: url,
        queueName: rig.queueName,
        gateway: { url: rig.sandbox.url, apiKey: rig.apiKey },
        logger: createLogger('info', 'json', sink),
      });
      await w.close();
      expect(out).toContain('Redis maxmemory-policy is allkeys-lru: set it to noeviction');
      // The shared test Redis has the right policy: no warning there.
      out = '';
      await (await rig.startWorker({ logger: createLogger('info', 'json', sink) })).close();
      expect(out).not.toContain('maxmemory-policy');
    } finally {
      server.kill('SIGKILL');
    }
  });

  it('redacts a key that would ever reach a log line, at any level', () => {
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    const log = createLogger('trace', 'json', sink);
    log.trace(
      { apiKey: 'k-SECRET-1', gateway: { apiKey: 'k-SECRET-2', url: 'https://alphasms.ua' } },
      'start',
    );
    log.error({ key: 'k-SECRET-3' }, 'oops');
    log.info({ webhook: { url: 'https://hooks.example', secret: 'k-SECRET-6' } }, 'webhook');
    log.info(
      { a: { b: { c: { gateway: { apiKey: 'k-SECRET-4' } } } }, list: [{ key: 'k-SECRET-5' }] },
      'deep',
    );
    expect(out).not.toMatch(/k-SECRET/);
    expect(out).toContain('[redacted]');
    expect(out).toContain('https://alphasms.ua');
  });
});
