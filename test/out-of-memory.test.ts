/**
 * Redis out of memory (maxmemory with noeviction, and full): a worker waits instead of retrying
 * every refused write at once, says so once, keeps every message, and sends them all once memory
 * returns. A private redis-server, whose maxmemory the test moves with CONFIG SET.
 */
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inspector } from '../src/inspect/inspector.js';
import { Producer } from '../src/producer/producer.js';
import { SandboxGateway } from '../src/sandbox/server.js';
import { createWorker, type SendWorker } from '../src/worker/send-worker.js';
import { PrivateRedis } from './private-redis.js';
import { jsonLogger, sampleMessages, waitFor } from './helpers.js';

describe('a worker when Redis is out of memory', () => {
  const redis = new PrivateRedis(19_900 + Math.floor(Math.random() * 90));
  const apiKey = 'oom-key-0123456789abcdef';
  const sandbox = new SandboxGateway({ apiKey });
  let admin: Redis;
  let worker: SendWorker | undefined;

  beforeAll(async () => {
    await redis.start();
    await sandbox.start();
    admin = new Redis(redis.url);
  });

  afterAll(async () => {
    await worker?.close();
    await admin.quit();
    await sandbox.close();
    await redis.stop();
  });

  it('logs it once, sends nothing and loses nothing while it lasts, and sends every message once when memory returns', async () => {
    const producer = new Producer({ connection: redis.url, queueName: 'oom' });
    await producer.enqueue('c', sampleMessages(300, 1));
    await producer.close();
    // Every write refused from here on.
    await admin.config('SET', 'maxmemory', '1');
    await expect(admin.set('probe', 'x')).rejects.toThrow(/^OOM /);

    const { logger, lines } = jsonLogger<{ level: number; msg?: string; forMs?: number }>('info');
    worker = await createWorker({
      connection: redis.url,
      queueName: 'oom',
      rate: 10_000, // a rate, so that the only warning could be the one under test
      logger,
      gateway: { url: sandbox.url, apiKey },
    });
    await sleep(3000);
    expect(sandbox.stats.requests).toBe(0);
    const full = lines.filter((l) => l.msg?.startsWith('Redis is out of memory'));
    expect(full).toHaveLength(1);
    expect(full[0]?.level).toBe(50);
    // Nothing else above info: no line per refused write (thousands a second without the guard).
    expect(lines.filter((l) => l.level >= 40)).toHaveLength(1);

    await admin.config('SET', 'maxmemory', '0');
    const inspector = new Inspector({ connection: redis.url, queueName: 'oom' });
    try {
      await waitFor(
        async () => (await inspector.counts('c')).completed === 300,
        'every message sent after memory returned',
        20_000,
      );
    } finally {
      await inspector.close();
    }
    expect(sandbox.stats.accepted).toBe(300);
    expect(sandbox.stats.duplicates).toBe(0);
    const back = lines.filter((l) => l.msg?.startsWith('Redis accepts writes again'));
    expect(back).toHaveLength(1);
    expect(back[0]?.forMs).toBeGreaterThanOrEqual(2000);
  });
});
