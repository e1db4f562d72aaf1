/** A campaign rig for integration tests: its own queue, a sandbox gateway, producer, inspector. */
import { Queue } from 'bullmq';
import { Producer } from '../src/producer/producer.js';
import { Inspector } from '../src/inspect/inspector.js';
import { SandboxGateway, type SandboxOptions } from '../src/sandbox/server.js';
import { createWorker, type SendWorker } from '../src/worker/send-worker.js';
import type { SendWorkerOptions } from '../src/worker/options.js';
import type { SendJobData, SendJobResult } from '../src/job.js';
import { queuePrefix } from '../src/redis.js';
import { dropQueue, TEST_REDIS, testRedis, uniqueQueue } from './helpers.js';

export interface Rig {
  queueName: string;
  apiKey: string;
  sandbox: SandboxGateway;
  producer: Producer;
  inspector: Inspector;
  queue: Queue<SendJobData, SendJobResult>;
  workers: SendWorker[];
  startWorker(over?: Partial<SendWorkerOptions>): Promise<SendWorker>;
  close(): Promise<void>;
}

/** Runs every release in order, whatever fails; then throws the first failure, if any. */
export async function releaseAll(steps: Array<() => Promise<unknown>>): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length > 0) throw failures[0];
}

export async function createRig(tag: string, sandboxOpts: SandboxOptions = {}): Promise<Rig> {
  const queueName = uniqueQueue(tag);
  const apiKey = `key-${tag}-0123456789abcdef`;
  const sandbox = new SandboxGateway({ apiKey, ...sandboxOpts });
  await sandbox.start();
  // Short backoffs so retries happen within a test.
  const producer = new Producer({ connection: TEST_REDIS, queueName, backoffMs: 50, attempts: 5 });
  const inspector = new Inspector({ connection: TEST_REDIS, queueName });
  const client = await testRedis();
  const queue = new Queue<SendJobData, SendJobResult>(queueName, {
    connection: client,
    prefix: queuePrefix(TEST_REDIS, queueName, undefined),
  });
  const workers: SendWorker[] = [];
  return {
    queueName,
    apiKey,
    sandbox,
    producer,
    inspector,
    queue,
    workers,
    async startWorker(over = {}) {
      const w = await createWorker({
        connection: TEST_REDIS,
        queueName,
        batchSize: 20,
        lingerMs: 20,
        ...over,
        gateway: {
          url: sandbox.url,
          apiKey,
          timeoutMs: 2000,
          retryMinDelayMs: 10,
          retryMaxDelayMs: 50,
          ...over.gateway,
        },
      });
      workers.push(w);
      return w;
    },
    async close() {
      // Every step runs even when one fails (a worker that will not close must not leave the
      // queue's keys in the shared Redis); the first failure is thrown at the end.
      await releaseAll([
        () => Promise.all(workers.map((w) => w.close())),
        () => producer.close(),
        () => inspector.close(),
        () => queue.close(),
        async () => {
          // BullMQ may have closed it with the queue.
          if (client.status !== 'end') await client.quit().catch(() => undefined);
        },
        () => sandbox.close(),
        () => dropQueue(queueName),
      ]);
    },
  };
}
