/**
 * Redis Sentinel: a primary, a replica and three sentinels; the primary is killed for good while a
 * campaign is being sent by CLI worker processes that found it through REDIS_SENTINELS. The
 * campaign completes on the promoted replica; each message was taken by the gateway once, with the
 * msg_id its job records; what the producer reported enqueued (each chunk acknowledged by the
 * replica, WAIT) is all there; every acceptance reached the workers' webhook.
 */
import { Redis } from 'ioredis';
import { Inspector } from '../src/inspect/inspector.js';
import { Producer } from '../src/producer/producer.js';
import { SandboxGateway } from '../src/sandbox/server.js';
import { killAllCliWorkers, startCliWorker } from './cli-worker.js';
import type { Rig } from './fixture.js';
import { sampleMessages, uniqueQueue, waitFor } from './helpers.js';
import { LocalSentinel, MASTER_NAME } from './local-sentinel.js';
import { startReceiver } from './webhook-receiver.js';

const KEY = 'key-sentinel-0123456789abcdef';
const HOOK_SECRET = 'a sentinel webhook secret';
const N = 1500;

describe('behind Redis Sentinel', () => {
  const sentinel = new LocalSentinel();
  let sandbox: SandboxGateway;

  beforeAll(async () => {
    await sentinel.start();
    sandbox = new SandboxGateway({ apiKey: KEY });
    await sandbox.start();
  }, 60_000);

  afterAll(async () => {
    killAllCliWorkers();
    await sandbox?.close();
    await sentinel.stop();
  });

  it('a failover mid-campaign: it completes on the new primary, each message sent once, nothing enqueued lost', async () => {
    const queueName = uniqueQueue('sent');
    const rig = { queueName, sandbox, apiKey: KEY } as unknown as Rig;
    // The workers' webhook events go through the failover too.
    const receiver = await startReceiver({ secret: HOOK_SECRET });
    const env = {
      REDIS_SENTINELS: sentinel.sentinels,
      REDIS_SENTINEL_NAME: MASTER_NAME,
      WEBHOOK_URL: receiver.url,
      WEBHOOK_SECRET: HOOK_SECRET,
    };
    // Short locks so that a job whose completion the failover lost comes back within the test.
    const args = ['--no-track', '--rate', '300', '--timeout-ms', '2000'];
    const more = ['--lock-duration-ms', '5000', '--stalled-interval-ms', '1000'];
    const workers = [0, 1].map(() =>
      startCliWorker(rig, [...args, ...more], 'redis://127.0.0.1:1', env),
    );
    const producer = new Producer({ connection: sentinel.url, queueName });
    const primary = new Redis(sentinel.primaryPort, '127.0.0.1');
    try {
      const res = await producer.enqueue('spring', sampleMessages(N, 1));
      expect(res.enqueued).toBe(N);
      // Each chunk waited for the replica (the producer found one connected).
      const stats = await primary.info('commandstats');
      expect(Number(/cmdstat_wait:calls=(\d+)/.exec(stats)?.[1] ?? 0)).toBeGreaterThanOrEqual(2);
      await waitFor(() => sandbox.stats.accepted >= 300, 'sending under way', 20_000);
      primary.disconnect();
      await sentinel.killPrimary();
      await waitFor(
        async () => (await sentinel.currentPrimary()) === sentinel.replicaPort,
        'Sentinel to promote the replica',
        20_000,
      );
      const inspector = new Inspector({ connection: sentinel.url, queueName });
      try {
        await waitFor(
          async () => (await inspector.counts('spring')).completed === N,
          'the campaign to complete on the new primary',
          60_000,
          250,
        );
        const counts = await inspector.counts('spring');
        expect(counts).toMatchObject({ total: N, completed: N, failed: 0, active: 0 });
        // The gateway took each message once; each job records the msg_id it gave.
        expect(sandbox.accepted.size).toBe(N);
        for await (const r of inspector.results('spring')) {
          expect(r.msgId).toBe(sandbox.accepted.get(r.id)?.msgId);
        }
        // Every message's acceptance reached the webhook (at least once), signed, with its msg_id.
        const accepted = () =>
          new Map(
            receiver.events
              .filter((e) => e.type === 'message.accepted')
              .map((e) => [e.messageId, e.msgId]),
          );
        await waitFor(() => accepted().size === N || undefined, 'every acceptance event', 30_000);
        for (const [id, msgId] of accepted()) expect(msgId).toBe(sandbox.accepted.get(id!)?.msgId);
        expect(receiver.unsigned).toBe(0);
      } finally {
        await inspector.close();
      }
    } finally {
      await receiver.close();
      for (const w of workers) w.child.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.exited(30_000)));
      await producer.close();
    }
  }, 120_000);
});

describe('behind Redis Sentinel, a failover during an enqueue', () => {
  const sentinel = new LocalSentinel();

  beforeAll(async () => {
    await sentinel.start();
  }, 60_000);

  afterAll(async () => {
    await sentinel.stop();
  });

  it('loses nothing the producer reported enqueued; running the same input again completes it, each id once', async () => {
    const queueName = uniqueQueue('sentenq');
    const n = 60_000;
    const rows = sampleMessages(n, 1);
    const producer = new Producer({ connection: sentinel.url, queueName, chunkSize: 500 });
    let reported = 0;
    let failure: unknown;
    try {
      const run = producer.enqueue('big', rows, {
        onProgress: (p) => {
          reported = p.enqueued;
        },
      });
      await waitFor(() => reported >= 5000, 'the enqueue to be under way', 20_000, 5);
      await sentinel.killPrimary();
      // Either it fails saying how far it got, or (rarely) it had finished just before the kill.
      await run.catch((err: unknown) => (failure = err));
    } finally {
      await producer.close();
    }
    if (failure !== undefined) {
      expect(failure).toMatchObject({
        code: 'REDIS_UNAVAILABLE',
        message: expect.stringContaining('Run the same input again'),
      });
    }
    await waitFor(
      async () => (await sentinel.currentPrimary()) === sentinel.replicaPort,
      'Sentinel to promote the replica',
      20_000,
    );
    const again = new Producer({ connection: sentinel.url, queueName, chunkSize: 500 });
    const inspector = new Inspector({ connection: sentinel.url, queueName });
    try {
      // Every chunk reported was acknowledged by the replica (WAIT) before it was reported.
      const survived = (await inspector.counts('big')).total;
      expect(survived).toBeGreaterThanOrEqual(reported);
      const res = await again.enqueue('big', rows);
      expect(res.enqueued + res.duplicates).toBe(n);
      expect(res.duplicates).toBe(survived);
      expect(await inspector.counts('big')).toMatchObject({ total: n, waiting: n });
      // Each id queued once: the queued hash holds every message, no more.
      const promoted = new Redis(sentinel.replicaPort, '127.0.0.1');
      try {
        expect(await promoted.hlen(`bull:${queueName}:vb:msg`)).toBe(n);
      } finally {
        promoted.disconnect();
      }
    } finally {
      await again.close();
      await inspector.close();
    }
  }, 120_000);
});
