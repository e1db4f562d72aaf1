/**
 * Redis Cluster: the whole path on a real three-master cluster — enqueue, send by CLI worker
 * processes, controls, timing and priority, delivery tracking, results, purge — and two queues on
 * different masters. Every Lua script of ours and BullMQ's runs here against keys of one slot;
 * one that built a key of another slot would fail with CROSSSLOT / "non local key".
 */
import { Cluster } from 'ioredis';
import { Inspector } from '../src/inspect/inspector.js';
import { Producer } from '../src/producer/producer.js';
import { queuePrefix } from '../src/redis.js';
import { SandboxGateway } from '../src/sandbox/server.js';
import { createWorker } from '../src/worker/send-worker.js';
import { killAllCliWorkers, startCliWorker } from './cli-worker.js';
import type { Rig } from './fixture.js';
import { sampleMessages, uniqueQueue, waitFor } from './helpers.js';
import { LocalCluster } from './local-cluster.js';

const KEY = 'key-cluster-0123456789abcdef';

describe('on a Redis Cluster of three masters', () => {
  const cluster = new LocalCluster();
  let sandbox: SandboxGateway;
  let keys: Cluster;

  beforeAll(async () => {
    await cluster.start(3);
    sandbox = new SandboxGateway({
      apiKey: KEY,
      delivery: {
        outcomes: { 102: 1 },
        delayMs: [50, 150],
        readShare: 0,
        readDelayMs: [0, 0],
        seed: 1,
      },
    });
    await sandbox.start();
    keys = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
  }, 60_000);

  afterAll(async () => {
    killAllCliWorkers();
    keys?.disconnect();
    await sandbox?.close();
    await cluster.stop();
  });

  /** A queue's keys, read from every master. */
  async function queueKeys(queueName: string): Promise<string[]> {
    const prefix = queuePrefix(cluster.url, queueName, undefined);
    const out: string[] = [];
    for (const node of keys.nodes('master')) out.push(...(await node.keys(`${prefix}:*`)));
    return out;
  }

  /** What a CLI worker needs: the cluster from REDIS_CLUSTER_NODES, not REDIS_URL. */
  function cliWorker(queueName: string, args: string[] = []) {
    const rig = { queueName, sandbox, apiKey: KEY } as unknown as Rig;
    return startCliWorker(rig, args, 'redis://127.0.0.1:1', {
      REDIS_CLUSTER_NODES: cluster.ports.map((p) => `127.0.0.1:${p}`).join(','),
    });
  }

  it('sends a campaign end to end: CLI workers, counts, delivery tracking, results, purge', async () => {
    const queueName = uniqueQueue('cl');
    const producer = new Producer({ connection: cluster.url, queueName });
    const inspector = new Inspector({ connection: cluster.url, queueName });
    const workers = [
      cliWorker(queueName, ['--track-after-ms', '200', '--read-window-ms', '0']),
      cliWorker(queueName, ['--track-after-ms', '200', '--read-window-ms', '0']),
    ];
    try {
      const res = await producer.enqueue('spring', sampleMessages(500, 1));
      expect(res.enqueued).toBe(500);
      // The same ids again are duplicates, across the cluster's one slot for this queue.
      expect((await producer.enqueue('other', sampleMessages(5, 1))).duplicates).toBe(5);
      await waitFor(
        async () => {
          const d = (await inspector.counts('spring')).delivery;
          return d.delivered === 500 && d.tracking === 0;
        },
        'all 500 sent and delivered',
        30_000,
      );
      const counts = await inspector.counts('spring');
      expect(counts).toMatchObject({ total: 500, completed: 500, failed: 0, waiting: 0 });
      const r = await inspector.result(42);
      expect(r).toMatchObject({ campaign: 'spring', state: 'completed', deliveryCode: 102 });
      expect(r?.msgId).toBe(sandbox.accepted.get(42)?.msgId);
      // Every key of the queue lives on one master (one hash slot).
      const masters = new Set(
        await Promise.all((await queueKeys(queueName)).map((k) => cluster.masterOf(k))),
      );
      expect(masters.size).toBe(1);
      for (const w of workers) w.child.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.exited()));
      expect(await producer.purge('spring')).toBe(500);
      expect((await queueKeys(queueName)).filter((k) => /:m\d+$/.test(k))).toEqual([]);
    } finally {
      for (const w of workers) w.child.kill('SIGKILL');
      await producer.close();
      await inspector.close();
    }
  });

  it('controls and timing hold: pause, resume, cancel, a start time and a high priority', async () => {
    const queueName = uniqueQueue('clc');
    const producer = new Producer({ connection: cluster.url, queueName });
    const inspector = new Inspector({ connection: cluster.url, queueName });
    const worker = await createWorker({
      connection: cluster.url,
      queueName,
      batchSize: 10,
      rate: 100,
      track: false,
      gateway: { url: sandbox.url, apiKey: KEY, timeoutMs: 2000 },
    });
    try {
      await producer.enqueue('bulk', sampleMessages(400, 10_001));
      await waitFor(async () => (await inspector.counts('bulk')).completed >= 50, 'bulk under way');
      await producer.pause('bulk');
      const at = new Date(Date.now() + 1000);
      await producer.enqueue('later', sampleMessages(20, 20_001), { at, priority: 'high' });
      await waitFor(
        async () => (await inspector.counts('later')).completed === 20,
        'the scheduled high campaign',
        10_000,
      );
      const later = [...sandbox.accepted.values()].filter((m) => m.id > 20_000);
      expect(Math.min(...later.map((m) => m.at))).toBeGreaterThanOrEqual(at.getTime());
      const paused = await inspector.counts('bulk');
      expect(paused.paused).toBeGreaterThan(0);
      await producer.resume('bulk');
      await waitFor(async () => (await inspector.counts('bulk')).completed >= 200, 'resumed');
      await producer.cancel('bulk');
      await waitFor(async () => {
        const c = await inspector.counts('bulk');
        return c.completed + c.cancelled === 400 && c.active === 0;
      }, 'the cancel');
    } finally {
      await worker.close();
      await producer.close();
      await inspector.close();
    }
  });

  it('several queues (one per gateway account, say) land on different masters, each with its own workers', async () => {
    // Queue names whose hash tags hash to different masters.
    const names: string[] = [];
    const seen = new Set<number>();
    for (let i = 0; names.length < 2; i++) {
      const name = `acct${i}-${uniqueQueue('q')}`.slice(0, 60);
      const master = await cluster.masterOf(`${queuePrefix(cluster.url, name, undefined)}:x`);
      if (!seen.has(master)) {
        seen.add(master);
        names.push(name);
      }
    }
    const producers = names.map(
      (queueName) => new Producer({ connection: cluster.url, queueName }),
    );
    const workers = names.map((q) => cliWorker(q, ['--no-track']));
    try {
      await Promise.all(
        producers.map((p, i) => p.enqueue('c', sampleMessages(100, 30_001 + i * 1000))),
      );
      await waitFor(
        () =>
          [...sandbox.accepted.keys()].filter((id) => id > 30_000 && id < 40_000).length === 200,
        'both queues sent',
        20_000,
      );
      for (const q of names) {
        const masters = new Set(
          await Promise.all((await queueKeys(q)).map((k) => cluster.masterOf(k))),
        );
        expect(masters.size).toBe(1);
      }
    } finally {
      for (const w of workers) w.child.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.exited()));
      await Promise.all(producers.map((p) => p.close()));
    }
  });

  it('refuses a prefix without a {hash tag} on a cluster, naming it', () => {
    expect(() => new Producer({ connection: cluster.url, queueName: 'x', prefix: 'bull' })).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTION',
        message: expect.stringContaining('{hash tag}'),
      }),
    );
  });
});
