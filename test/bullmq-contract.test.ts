/**
 * What viber-bulk relies on from BullMQ, through its public API only, against the BullMQ that is
 * installed (CI runs this on the oldest and the newest version package.json admits): a package job
 * added twice under one id is one job; a worker that dies holding it loses it to stall recovery;
 * a throw is retried after its backoff with the progress of the attempt before; moveToWait hands
 * it back without using an attempt; its return value is kept; Queue.remove takes it away.
 */
import { Queue, WaitingError, Worker, type Job } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import { clientFor, type RedisClient } from '../src/redis.js';
import { dropQueue, TEST_REDIS, uniqueQueue, waitFor } from './helpers.js';

describe('the BullMQ contract a package job relies on', () => {
  const name = uniqueQueue('contract');
  let redis: RedisClient;
  let queue: Queue;
  const workers: Worker[] = [];
  /** Each worker's own connection: BullMQ leaves a connection it was given open. */
  const connections: RedisClient[] = [];

  beforeAll(async () => {
    redis = clientFor(TEST_REDIS, 'worker');
    await redis.connect();
    queue = new Queue(name, { connection: redis });
  });

  afterAll(async () => {
    for (const w of workers) await w.close(true);
    for (const c of connections) c.disconnect();
    await queue.close();
    redis.disconnect();
    await dropQueue(name);
  });

  const worker = (
    fn: (job: Job, token?: string) => Promise<unknown>,
    opts: { lockDuration?: number; stalledInterval?: number } = {},
  ): Worker => {
    const connection = redis.duplicate();
    connections.push(connection);
    const w = new Worker(name, fn, {
      connection,
      lockDuration: opts.lockDuration ?? 30_000,
      stalledInterval: opts.stalledInterval ?? 30_000,
      maxStalledCount: 2,
    });
    w.on('error', () => undefined);
    workers.push(w);
    return w;
  };

  it('adds a job once per id, recovers it from a dead worker, retries with backoff and progress, hands it back, completes and removes it', async () => {
    const opts = { jobId: 'p1', attempts: 3, backoff: { type: 'fixed', delay: 50 } };
    await queue.addBulk([{ name: 'send', data: { package: 'p1' }, opts }]);
    await queue.addBulk([{ name: 'send', data: { package: 'p1' }, opts }]);
    expect(await queue.getJobCounts('wait')).toEqual({ wait: 1 });

    // A worker takes it and dies without a word (its lock is never renewed, never released).
    let taken = 0;
    const dead = worker(
      async () => {
        taken++;
        await new Promise(() => undefined);
      },
      { lockDuration: 500, stalledInterval: 200 },
    );
    await waitFor(() => taken === 1, 'the first worker to take it');
    expect(await queue.getJobState('p1')).toBe('active');
    await dead.close(true);

    // The next worker gets it back once its lock expires (stall recovery), then: a throw (an
    // attempt used, progress kept), a hand-back (none used), and a return value.
    const seen: Array<{ attemptsMade: number; progress: unknown }> = [];
    worker(
      async (job, token) => {
        seen.push({ attemptsMade: job.attemptsMade, progress: job.progress });
        if (seen.length === 1) {
          await job.updateProgress({ messages: [1] });
          throw new Error('transient');
        }
        if (seen.length === 2) {
          await job.moveToWait(token);
          throw new WaitingError();
        }
        return { messages: [1, 2] };
      },
      { lockDuration: 500, stalledInterval: 200 },
    );
    await waitFor(
      async () => (await queue.getJobState('p1')) === 'completed',
      'completion',
      20_000,
    );
    expect(seen).toEqual([
      { attemptsMade: 0, progress: 0 },
      { attemptsMade: 1, progress: { messages: [1] } },
      { attemptsMade: 1, progress: { messages: [1] } },
    ]);
    const job = await queue.getJob('p1');
    expect(job?.returnvalue).toEqual({ messages: [1, 2] });
    expect(job?.attemptsMade).toBe(2);

    // Removed through the queue: nothing of it is left to find.
    expect(await queue.remove('p1')).toBe(1);
    expect(await queue.getJobState('p1')).toBe('unknown');
    await sleep(10);
  });
});
