/** A campaign rig for integration tests: its own queue, a sandbox gateway, producer, inspector. */
import { Queue } from 'bullmq';
import { Producer } from '../src/producer/producer.js';
import { Inspector } from '../src/inspect/inspector.js';
import { SandboxGateway, type SandboxOptions } from '../src/sandbox/server.js';
import { createWorker, type SendWorker } from '../src/worker/send-worker.js';
import type { SendWorkerOptions } from '../src/worker/options.js';
import type { SendJobData, SendJobResult } from '../src/job.js';
import { dropQueue, REDIS_URL, uniqueQueue } from './helpers.js';

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

export async function createRig(tag: string, sandboxOpts: SandboxOptions = {}): Promise<Rig> {
  const queueName = uniqueQueue(tag);
  const apiKey = `key-${tag}-0123456789abcdef`;
  const sandbox = new SandboxGateway({ apiKey, ...sandboxOpts });
  await sandbox.start();
  // Short backoffs so retries happen within a test.
  const producer = new Producer({ connection: REDIS_URL, queueName, backoffMs: 50, attempts: 5 });
  const inspector = new Inspector({ connection: REDIS_URL, queueName });
  const queue = new Queue<SendJobData, SendJobResult>(queueName, {
    connection: { url: REDIS_URL },
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
        connection: REDIS_URL,
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
      await Promise.all(workers.map((w) => w.close()));
      await producer.close();
      await inspector.close();
      await queue.close();
      await sandbox.close();
      await dropQueue(queueName);
    },
  };
}
