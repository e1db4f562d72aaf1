import { Producer } from '../src/producer/producer.js';
import { Inspector } from '../src/inspect/inspector.js';
import {
  dropQueue,
  releaseQueued,
  sampleMessages,
  TEST_REDIS,
  testRedis,
  uniqueQueue,
} from './helpers.js';

describe('enqueueing a campaign', () => {
  let queueName: string;
  let producer: Producer;
  let inspector: Inspector;

  beforeEach(() => {
    queueName = uniqueQueue('prod');
    producer = new Producer({ connection: TEST_REDIS, queueName, chunkSize: 7 });
    inspector = new Inspector({ connection: TEST_REDIS, queueName });
  });

  afterEach(async () => {
    await producer.close();
    await inspector.close();
    await dropQueue(queueName);
  });

  it('reports duplicates within one call, across calls and across campaigns, and queues each id once', async () => {
    const msgs = sampleMessages(20, 1);
    const first = await producer.enqueue('a', [
      ...msgs,
      ...msgs.slice(3, 4),
      ...msgs.slice(15, 16),
    ]);
    expect(first).toMatchObject({
      enqueued: 20,
      duplicates: 2,
      duplicateIds: [4, 16],
      rejectedCount: 0,
    });
    const again = await producer.enqueue('a', msgs.slice(0, 5));
    expect(again).toMatchObject({ enqueued: 0, duplicates: 5, duplicateIds: [1, 2, 3, 4, 5] });
    const other = await producer.enqueue('b', [
      ...sampleMessages(3, 19),
      ...sampleMessages(2, 100),
    ]);
    expect(other).toMatchObject({ enqueued: 3, duplicates: 2, duplicateIds: [19, 20] });
    expect(await inspector.counts('a')).toMatchObject({ total: 20, waiting: 20 });
    expect(await inspector.counts('b')).toMatchObject({ total: 3, waiting: 3 });
  });

  it('streams an async iterable in chunks and reports each invalid row with its position', async () => {
    async function* rows() {
      yield* sampleMessages(10, 1);
      yield { id: 11, phone: 'not-a-phone', sender: 'S', text: 'x' };
      yield { id: 12, phone: '+380971234567', sender: 'S', text: 'x', type: 'image' };
      yield 'garbage';
    }
    // Rows of any shape, as a JavaScript caller or parsed JSON hands them over.
    const res = await producer.enqueue('c', rows() as never);
    expect(res.enqueued).toBe(10);
    expect(res.rejected).toEqual([
      {
        line: 11,
        id: 11,
        errors: [{ field: 'phone', rule: 'is not a phone number' }],
      },
      { line: 12, id: 12, errors: [{ field: 'image', rule: 'is required for image' }] },
      { line: 13, id: undefined, errors: [{ field: '(message)', rule: 'must be an object' }] },
    ]);
  });

  it('keeps at most 100 characters of a rejected id, names a non-scalar id by its type, and enqueues the rest', async () => {
    const huge = '9'.repeat(5) + 'x'.repeat(200_000);
    async function* rows() {
      yield { id: huge, phone: '+380971234567', sender: 'S', text: 'x' };
      yield { id: { toString: 1, valueOf: 1 }, phone: '+380971234567', sender: 'S', text: 'x' };
      yield { id: [1, 2], phone: '+380971234567', sender: 'S', text: 'x' };
      yield { id: '🎉'.repeat(150), phone: '+380971234567', sender: 'S', text: 'x' };
      yield* sampleMessages(2, 1);
    }
    const res = await producer.enqueue('ids', rows() as never);
    expect(res.enqueued).toBe(2);
    expect(res.rejected.map((r) => [r.line, r.id])).toEqual([
      [1, '99999' + 'x'.repeat(95) + '… (200005 characters)'],
      [2, '(object)'],
      [3, '(an array)'],
      [4, '🎉'.repeat(100) + '… (150 characters)'],
    ]);
    for (const r of res.rejected) {
      expect(r.errors).toEqual([{ field: 'id', rule: 'must be a positive integer' }]);
    }
  });

  it('holds no more of rejected rows than their reports: 200 rows of 200 KB ids leave the heap as it was', async () => {
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    async function* rows() {
      for (let i = 0; i < 200; i++) {
        // Built fresh each time, as a file's lines are: 200 × 400 KB (UTF-16) if any were kept.
        yield { id: `${i}:`.padEnd(200_000, 'x'), phone: '+380971234567', sender: 'S', text: 'x' };
      }
    }
    gc();
    const before = process.memoryUsage().heapUsed;
    const res = await producer.enqueue('big-ids', rows());
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    expect(res.rejectedCount).toBe(200);
    expect(res.rejected).toHaveLength(200);
    // Kept: 200 ids of ~120 characters. A report holding the values would be 80 MB.
    expect(grown).toBeLessThan(8 * 2 ** 20);
  });

  it('names each duplicate with its line and whether the queue or an earlier row had it', async () => {
    await producer.enqueue('named', sampleMessages(3, 1));
    const rows = [...sampleMessages(2, 3), ...sampleMessages(1, 4), ...sampleMessages(1, 9)];
    const res = await producer.enqueue('named', rows);
    expect(res).toMatchObject({ enqueued: 2, duplicates: 2, duplicateIds: [3, 4] });
    expect(res.duplicateRows).toEqual([
      { line: 1, id: 3, of: 'queue' },
      { line: 3, id: 4, of: 'input' },
    ]);
  });

  it('a dry run reports what the enqueue would — new, duplicate, rejected — and writes nothing to Redis', async () => {
    await producer.enqueue('dry', sampleMessages(5, 1));
    const rows = [
      ...sampleMessages(1, 4), // queued already
      ...sampleMessages(1, 6),
      ...sampleMessages(1, 6), // an earlier row has it
      { id: 7, phone: 'not-a-phone', sender: 'S', text: 'x' },
      ...sampleMessages(10, 8), // more than a chunk (7) of them
    ];
    const redis = await testRedis();
    try {
      // Every key of the queue with its whole content (not DUMP: reading a hash may advance
      // its rehashing, which reorders DUMP's bytes but not the content).
      const snapshot = async () => {
        const keys = (await redis.keys(`bull:${queueName}:*`)).sort();
        return Promise.all(
          keys.map(async (k) => {
            const type = await redis.type(k);
            if (type === 'hash') return [k, Object.entries(await redis.hgetall(k)).sort()];
            if (type === 'list') return [k, await redis.lrange(k, 0, -1)];
            if (type === 'set') return [k, (await redis.smembers(k)).sort()];
            if (type === 'zset') return [k, await redis.zrange(k, 0, -1, 'WITHSCORES')];
            return [k, type, await redis.get(k)];
          }),
        );
      };
      const before = await snapshot();
      const dry = await producer.enqueue('dry', rows, {
        dryRun: true,
        priority: 'high',
        defaults: { text: 'campaign-wide' },
      });
      expect(await snapshot()).toEqual(before);
      expect(dry).toMatchObject({ dryRun: true, enqueued: 11, duplicates: 2, rejectedCount: 1 });
      // The oracle: the same rows enqueued for real.
      const real = await producer.enqueue('dry', rows);
      expect(real.dryRun).toBe(false);
      expect({ ...dry, dryRun: false }).toEqual(real);
      expect(await inspector.counts('dry')).toMatchObject({ total: 16, waiting: 16 });
    } finally {
      redis.disconnect();
    }
  });

  it('takes typed rows: TypeScript refuses a row without its id or phone, and so does validation', async () => {
    const noPhone = { id: 1, text: 'hi', sender: 'S' };
    const noId = { phone: '+380971234567', text: 'hi', sender: 'S' };
    // @ts-expect-error a row needs its phone
    const a = await producer.enqueue('typed', [noPhone]);
    // @ts-expect-error and its id
    const b = await producer.enqueue('typed', [noId]);
    // Text and sender may come from the campaign's defaults.
    const c = await producer.enqueue('typed', [{ id: 3, phone: '+380971234567' }]);
    expect([a, b, c].map((r) => r.rejected[0]?.errors[0]?.field)).toEqual([
      'phone',
      'id',
      'sender',
    ]);
  });

  it('creates no BullMQ job before the dispatcher packages a message; then a package job naming its package, with its campaign and attempts', async () => {
    await producer.enqueue('c', sampleMessages(1, 77));
    const { queue, store } = await producer.connection();
    // Queued: only its record in the queued hash, no job.
    expect(await queue.getJobCounts('wait', 'delayed')).toEqual({ wait: 0, delayed: 0 });
    const [queued] = await store.queuedData([77]);
    expect(Object.keys(JSON.parse(queued ?? '{}') as object).sort()).toEqual([
      'campaign',
      'message',
    ]);
    expect(await releaseQueued(queue)).toEqual({ released: 1, swept: 0 });
    // Packaged: a BullMQ job added with BullMQ's own addBulk, waiting; it names its package,
    // which holds the message; the record stays the message's own until it ends.
    const [job] = await queue.getJobs(['wait']);
    expect(job?.name).toBe('send');
    expect(job?.data).toEqual({ campaign: 'c', package: job?.id });
    const opened = await store.packages.open(job?.id ?? '');
    expect(opened?.messages).toEqual([{ id: 77, record: queued }]);
    expect(JSON.parse(opened?.messages[0]?.record ?? '{}')).toMatchObject({
      message: { id: 77, phone: sampleMessages(1, 77)[0]?.phone },
    });
    expect(job?.opts).toMatchObject({ attempts: 8, backoff: { type: 'exponential', delay: 5000 } });
    expect(await job?.isWaiting()).toBe(true);
    expect(Math.abs((job?.timestamp ?? 0) - Date.now())).toBeLessThan(10_000);
    expect(await store.queuedData([77])).toEqual([queued]);
  });

  it('lists campaigns in the order they were first enqueued, even several within one millisecond', async () => {
    const names = ['h', 'g', 'f', 'e', 'd', 'c', 'b', 'a']; // the reverse of alphabetical
    for (const [i, name] of names.entries()) {
      await producer.enqueue(name, sampleMessages(1, 100 + i));
    }
    await producer.enqueue('h', sampleMessages(1, 200)); // enqueued again: keeps its place
    expect((await inspector.campaigns()).map((c) => c.campaign)).toEqual(names);
  });

  it('fails fast, naming the Redis URL, when Redis is down', async () => {
    const dead = new Producer({ connection: 'redis://127.0.0.1:1', queueName });
    const started = Date.now();
    await expect(dead.enqueue('c', sampleMessages(1))).rejects.toMatchObject({
      code: 'REDIS_UNAVAILABLE',
      message: expect.stringContaining('redis://127.0.0.1:1'),
    });
    expect(Date.now() - started).toBeLessThan(5000);
    await dead.close();
    await dead.close(); // idempotent
  });

  it('refuses bad options and campaign names with the name of the option and the fix', async () => {
    expect(() => new Producer({ chunkSize: 0 })).toThrow(
      'chunkSize must be an integer in 1..100000 (got 0)',
    );
    await expect(producer.enqueue('no spaces', [])).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining('campaign must be'),
    });
  });
});
