/**
 * The enqueue baseline, run as its own process like `viber-bulk enqueue`: raw BullMQ addBulk of
 * the same messages (built in memory, no file, no validation, no dedupe), chunks of 1,000, with the
 * job options our producer sets.
 *   raw-enqueue <queue> <n>
 */
import { Queue } from 'bullmq';
import { message, REDIS_URL } from './lib.js';

const [queueName, nText] = process.argv.slice(2);
const n = Number(nText);
const queue = new Queue(queueName as string, { connection: { url: REDIS_URL } });
for (let i = 0; i < n; i += 1000) {
  const jobs = [];
  for (let id = 1 + i; id <= Math.min(i + 1000, n); id++) {
    jobs.push({
      name: 'send',
      data: { campaign: 'raw', message: message(id) },
      opts: {
        jobId: `m${id}`,
        attempts: 8,
        backoff: { type: 'exponential', delay: 5000, jitter: 0.5 },
      },
    });
  }
  await queue.addBulk(jobs);
}
await queue.close();
