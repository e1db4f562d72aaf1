/**
 * An enqueue counts a chunk only once a replica holds it (Redis WAIT), so that a failover cannot
 * lose what the producer reported. The oracle is a replica frozen with SIGSTOP: still connected
 * (the primary counts it), but acknowledging nothing. Without WAIT the enqueue would succeed at
 * once; with it, it fails saying the chunk could be lost, and succeeds once the replica thaws.
 */
import { Redis } from 'ioredis';
import { Producer } from '../src/producer/producer.js';
import { PrivateRedis } from './private-redis.js';
import { sampleMessages, uniqueQueue, waitFor } from './helpers.js';

describe('enqueue with a replica (WAIT)', () => {
  const base = 19_000 + Math.floor(Math.random() * 900);
  const primary = new PrivateRedis(base);
  const replica = new PrivateRedis(base + 1, ['--replicaof', '127.0.0.1', String(base)]);

  beforeAll(async () => {
    await primary.start();
    await replica.start();
    const r = new Redis(base, '127.0.0.1');
    try {
      await waitFor(
        async () => /connected_slaves:1/.test(await r.info('replication')),
        'the replica to connect',
        20_000,
      );
    } finally {
      r.disconnect();
    }
  }, 30_000);

  afterAll(async () => {
    await replica.stop();
    await primary.stop();
  });

  it('fails a chunk no replica acknowledged in time, saying so; the same input again completes once it does', async () => {
    const queueName = uniqueQueue('replica');
    const rows = sampleMessages(300, 1);
    const producer = new Producer({
      connection: primary.url,
      queueName,
      chunkSize: 100,
      waitReplicasTimeoutMs: 500,
    });
    try {
      replica.signal('SIGSTOP');
      await expect(producer.enqueue('c', rows)).rejects.toMatchObject({
        code: 'REDIS_UNAVAILABLE',
        message: expect.stringMatching(
          /enqueue of campaign c stopped after 0 messages: 0 of 1 replica\(s\) acknowledged the chunk within 500 ms: it could be lost in a failover\. Run the same input again/,
        ),
      });
      replica.signal('SIGCONT');
      const r = new Redis(base, '127.0.0.1');
      try {
        await waitFor(async () => (await r.wait(1, 100)) === 1, 'the replica to catch up', 20_000);
      } finally {
        r.disconnect();
      }
      // Chunks are pipelined: those written to the primary but not acknowledged were not
      // reported; the same input again finds them (duplicates) and adds the rest, each id once.
      // (A patient producer for the re-run: on a loaded machine a caught-up replica may still
      // take over 500 ms to acknowledge a chunk.)
      const patient = new Producer({ connection: primary.url, queueName, chunkSize: 100 });
      const again = await patient.enqueue('c', rows).finally(() => patient.close());
      expect(again.enqueued + again.duplicates).toBe(300);
      // Everything reported is on the replica already: WAIT returned only once it was.
      const onReplica = new Redis(base + 1, '127.0.0.1');
      try {
        expect(await onReplica.hlen(`bull:${queueName}:vb:msg`)).toBe(300);
      } finally {
        onReplica.disconnect();
      }
    } finally {
      replica.signal('SIGCONT');
      await producer.close();
    }
  });
});
