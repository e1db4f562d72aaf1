/**
 * `npm run demo`: the whole path on the built-in defaults. Starts the sandbox gateway in-process,
 * a worker, enqueues examples/campaign.csv (1,000 messages) into a fresh queue, shows progress, and
 * checks the outcome: every message accepted, each with its own msg_id; then follows them to
 * delivery, sends an SMS for each one Viber could not deliver (a tenth of the sandbox's phones
 * have no Viber: those ending in 0), and counts the signed webhook events a receiver of its own
 * verified. Needs a Redis: the one at
 * REDIS_URL, or one it starts itself when `redis-server` is installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inspector } from '../inspect/inspector.js';
import { readRows } from '../producer/input.js';
import { Producer } from '../producer/producer.js';
import { deleteQueueKeys, redisAnswers, safeRedisUrl } from '../redis.js';
import { phoneWithoutViber, SandboxGateway } from '../sandbox/server.js';
import { DEFAULT_FALLBACK_CODES } from '../fallback.js';
import { createWorker } from '../worker/send-worker.js';
import { readEnv } from './env.js';
import { createLogger } from './log.js';
import { funnel } from './funnel.js';
import { startDemoReceiver } from './demo-webhooks.js';
import { bar } from './progress.js';

const CAMPAIGN_FILE = fileURLToPath(new URL('../../examples/campaign.csv', import.meta.url));
const out = (s: string) => process.stdout.write(s);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** The Redis to use, and the server we started for it, if any. */
async function redisForDemo(url: string): Promise<{ url: string; server?: ChildProcess }> {
  if (await redisAnswers(url)) return { url };
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    out(
      `No Redis answers at ${safeRedisUrl(url)}, and redis-server is not installed.\n` +
        'Start one, then run the demo again:\n' +
        '  sudo apt-get install -y redis-server && redis-server --daemonize yes\n' +
        'or point REDIS_URL at a Redis you have: REDIS_URL=redis://host:6379 npm run demo\n',
    );
    process.exit(2);
  }
  const port = await freePort();
  out(`No Redis at ${safeRedisUrl(url)}: starting redis-server on port ${port} for the demo.\n`);
  const server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  // Ctrl-C (or a SIGTERM to the demo alone) stops the redis-server it started, then the demo.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      server.kill('SIGTERM');
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
  const local = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50 && !(await redisAnswers(local)); i++) await sleep(100);
  return { url: local, server };
}

async function main(): Promise<number> {
  const env = readEnv();
  const redis = await redisForDemo(env.redisUrl);
  const queueName = `viber-demo-${Date.now().toString(36)}`;
  const apiKey = randomBytes(16).toString('hex');
  // After acceptance the sandbox delivers as a real account might, only faster: final codes
  // within 0.2–1.5 s, 85% delivered, 40% of those read soon after.
  // Phones ending in 0 have no Viber there: their messages end 105 and go out as SMS.
  const sandbox = new SandboxGateway({
    apiKey,
    latencyMs: 20,
    withoutViber: phoneWithoutViber,
    delivery: {
      outcomes: { 102: 0.85, 105: 0.05, 103: 0.05, 108: 0.05 },
      delayMs: [200, 1500],
      readShare: 0.4,
      readDelayMs: [200, 1000],
      seed: 1,
    },
  });
  await sandbox.start();
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const receiver = await startDemoReceiver(secret);
  const worker = await createWorker({
    connection: redis.url,
    queueName,
    gateway: { url: sandbox.url, apiKey },
    // Delivery tracking at demo speed (defaults: first question after 60 s, then up to 30 min).
    trackAfterMs: 300,
    trackMaxIntervalMs: 500,
    readWindowMs: 3000,
    trackRate: 50,
    webhook: { url: receiver.url, secret, flushMs: 200 },
    logger: createLogger(process.env['LOG_LEVEL'] ?? 'warn'),
  });
  const producer = new Producer({ connection: redis.url, queueName });
  const inspector = new Inspector({ connection: redis.url, queueName });
  let ok: boolean;
  try {
    out(`Sandbox gateway at ${sandbox.url}; queue ${queueName} on ${safeRedisUrl(redis.url)}\n`);
    const started = Date.now();
    const enq = await producer.enqueueRows(
      'demo',
      readRows(createReadStream(CAMPAIGN_FILE), 'csv'),
      {
        // The SMS fallback every message carries (one GSM-7 segment).
        defaults: {
          sender: 'SMSTest',
          smsText: 'SMSTest: your order update did not reach you on Viber; details at example.com',
        },
      },
    );
    out(
      `Enqueued ${enq.enqueued} messages from examples/campaign.csv (${enq.rejectedCount} rejected), ` +
        `each with an SMS fallback of ${enq.sms.segments / Math.max(1, enq.sms.messages)} segment\n`,
    );
    const tty = process.stdout.isTTY;
    let last = '';
    for (;;) {
      const c = await inspector.counts('demo');
      const done = c.completed + c.failed;
      const secs = (Date.now() - started) / 1000;
      const line = `${bar(done, c.total)} ${done}/${c.total}  completed ${c.completed}  failed ${c.failed}  ${Math.round(c.completed / secs)} msg/s`;
      if (tty) out(`\r${line}`);
      else if (line !== last) out(line + '\n');
      last = line;
      if (done >= c.total) break;
      await sleep(tty ? 100 : 500);
    }
    if (tty) out('\n');

    const msgIds = new Set<number>();
    let accepted = 0;
    const samples = [];
    for await (const r of inspector.results('demo')) {
      if (r.state === 'completed' && r.msgId !== null && r.msgId > 0) {
        accepted++;
        msgIds.add(r.msgId);
        if (samples.length < 3) samples.push(r);
      }
    }
    const secs = (Date.now() - started) / 1000;
    out(
      `\nSummary: ${enq.enqueued} messages, ${accepted} accepted by the gateway, ${msgIds.size} distinct msg_ids, ` +
        `${sandbox.stats.sendPackages} packages, ${secs.toFixed(1)} s\n`,
    );
    for (const s of samples) out(`  id ${s.id} → msg_id ${s.msgId} (${s.status})\n`);
    ok = enq.enqueued > 0 && accepted === enq.enqueued && msgIds.size === accepted;
    out(
      ok
        ? 'All messages accepted, each with its own msg_id.\n'
        : 'Some messages were not accepted.\n',
    );

    // What became of them: the workers ask <status> until every message's fate is known.
    out('\nFollowing them to delivery (<status>)…\n');
    let c = await inspector.counts('demo');
    const trackUntil = Date.now() + 30_000;
    const open = () => c.delivery.tracking + c.sms.waiting + c.sms.tracking;
    while (open() > 0 && Date.now() < trackUntil) {
      await sleep(300);
      c = await inspector.counts('demo');
    }
    out(funnel(c).join('\n') + '\n');
    // Every message Viber could not deliver (a fallback code) got its SMS, and only those.
    const triggers = new Set(DEFAULT_FALLBACK_CODES);
    let fellBack = 0;
    let smsSent = 0;
    for await (const r of inspector.results('demo')) {
      if (r.deliveryCode !== null && triggers.has(r.deliveryCode)) fellBack++;
      if (r.sms?.msgId) smsSent++;
    }
    const smsOk = fellBack > 0 && smsSent === fellBack && c.sms.total === fellBack;
    out(
      smsOk
        ? `SMS fallback: all ${fellBack} messages Viber could not deliver went out as SMS, ${c.sms.delivered} delivered.\n`
        : `SMS fallback: ${fellBack} messages Viber could not deliver, ${smsSent} SMS sent.\n`,
    );
    ok &&= smsOk;

    // Every outcome above was also POSTed, signed, to the demo's own receiver.
    const want = c.completed + c.failed + c.delivery.delivered + c.delivery.read;
    const got = () => [...receiver.byType.values()].reduce((a, b) => a + b, 0);
    for (let i = 0; i < 50 && got() < want; i++) await sleep(100);
    const types = [...receiver.byType].map(([t, n]) => `${t} ${n}`).join(', ');
    out(
      `\nWebhooks: ${got()} signed events verified by the demo's receiver (${types})` +
        `${receiver.refused > 0 ? `, ${receiver.refused} requests refused` : ''}\n`,
    );
  } finally {
    await worker.close();
    await receiver.close();
    await producer.close();
    await inspector.close();
    await sandbox.close();
    // The demo's queue is its own: leave nothing behind.
    await deleteQueueKeys(redis.url, queueName);
    redis.server?.kill();
  }
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`demo failed: ${err.message}\n`);
    process.exit(1);
  },
);
