import { Queue } from 'bullmq';
import { Producer } from '../src/producer/producer.js';
import { createWorker, type SendWorker } from '../src/worker/send-worker.js';
import { Inspector } from '../src/inspect/inspector.js';
import { SandboxGateway } from '../src/sandbox/server.js';
import { queuePrefix } from '../src/redis.js';
import {
  dropQueue,
  sampleMessages,
  TEST_REDIS,
  testRedis,
  uniqueQueue,
  waitFor,
  messages,
} from './helpers.js';

describe('a campaign end to end, on real Redis and a real HTTP gateway', () => {
  let queueName: string;
  let sandbox: SandboxGateway;
  let producer: Producer;
  let inspector: Inspector;
  let worker: SendWorker | undefined;

  beforeEach(async () => {
    queueName = uniqueQueue('e2e');
    sandbox = new SandboxGateway({ apiKey: 'k-e2e' });
    await sandbox.start();
    producer = new Producer({ connection: TEST_REDIS, queueName });
    inspector = new Inspector({ connection: TEST_REDIS, queueName });
  });

  afterEach(async () => {
    await worker?.close();
    worker = undefined;
    await producer.close();
    await inspector.close();
    await sandbox.close();
    await dropQueue(queueName);
  });

  it('sends 1,000 messages in batches and records each job its own msg_id', async () => {
    const msgs = sampleMessages(1000, 5001);
    const res = await producer.enqueue('spring', msgs);
    expect(res).toMatchObject({ enqueued: 1000, duplicates: 0, rejectedCount: 0 });

    worker = await createWorker({
      connection: TEST_REDIS,
      queueName,
      gateway: { url: sandbox.url, apiKey: 'k-e2e' },
      batchSize: 50,
    });
    await waitFor(
      async () => (await inspector.counts('spring')).completed === 1000,
      'all completed',
    );

    const counts = await inspector.counts('spring');
    expect(counts).toMatchObject({
      total: 1000,
      completed: 1000,
      failed: 0,
      waiting: 0,
      active: 0,
    });
    expect(counts.byStatus).toEqual({ '1': 1000 });
    // Batched: far fewer packages than messages.
    expect(sandbox.stats.sendPackages).toBeLessThanOrEqual(1000 / 10);

    const client = await testRedis();
    const queue = new Queue(queueName, {
      connection: client,
      prefix: queuePrefix(TEST_REDIS, queueName, undefined),
    });
    try {
      const jobs = await messages(queue, ['completed']);
      expect(jobs).toHaveLength(1000);
      const msgIds = new Set<number>();
      for (const job of jobs) {
        const gw = sandbox.accepted.get(job.data.message.id);
        expect(job.returnvalue).toMatchObject({
          msgId: gw?.msgId,
          statusCode: 1,
          status: 'OK',
          attempts: 1,
        });
        msgIds.add(job.returnvalue.msgId);
      }
      expect(msgIds.size).toBe(1000);
    } finally {
      await queue.close();
      client.disconnect();
    }
    const one = await inspector.result(5001);
    expect(one).toMatchObject({
      id: 5001,
      state: 'completed',
      statusCode: 1,
      msgId: sandbox.accepted.get(5001)?.msgId,
    });
  });
});
