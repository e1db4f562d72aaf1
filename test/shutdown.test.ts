import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { createRig, type Rig } from './fixture.js';
import { killAllCliWorkers, startCliWorker } from './cli-worker.js';
import { sampleMessages, waitFor, messages, messageCounts } from './helpers.js';

async function stopped(child: ChildProcess) {
  if (child.exitCode === null) child.kill('SIGKILL');
}

describe('shutting a worker down with a signal', () => {
  let rig: Rig;
  afterEach(async () => {
    killAllCliWorkers();
    await rig.close();
  });

  it('on SIGTERM finishes the batches in flight, takes no new jobs, leaves nothing active and exits 0', async () => {
    rig = await createRig('sigterm', { latencyMs: 150 });
    await rig.producer.enqueue('c', sampleMessages(3000, 1));
    const w = startCliWorker(rig);
    try {
      await waitFor(
        async () => (await rig.inspector.counts('c')).completed >= 100,
        'the worker to be sending',
        20_000,
      );
      const signalled = Date.now();
      w.child.kill('SIGTERM');
      const { code, at } = await w.exited();
      expect(code).toBe(0);
      expect(at - signalled).toBeLessThan(10_000);
      const counts = await rig.inspector.counts('c');
      expect(counts.active).toBe(0);
      expect(await messageCounts(rig.queue, 'active', 'failed')).toEqual({ active: 0, failed: 0 });
      // Every message the gateway accepted is completed; the rest wait for the next worker.
      expect(counts.completed).toBe(rig.sandbox.stats.accepted);
      expect(counts.waiting + counts.completed).toBe(3000);
      expect(counts.completed).toBeLessThan(3000);
      expect(w.logs()).toContain('worker closed');
      expect(w.logs()).not.toContain(rig.apiKey);
    } finally {
      await stopped(w.child);
    }
  });

  it('on SIGINT drains the same way, and sends the package still lingering for more at once instead of waiting out the linger', async () => {
    rig = await createRig('sigint');
    await rig.producer.enqueue('c', sampleMessages(30, 1));
    // Packages of 1000 that linger a minute: without the drain these 30 wait 60 s to be sent.
    const w = startCliWorker(rig, ['--batch-size', '1000', '--linger-ms', '60000']);
    try {
      await waitFor(() => w.logs().includes('worker started'), 'the worker to start', 20_000);
      await sleep(500); // a few dispatcher turns: the 30 linger
      expect(await messageCounts(rig.queue, 'wait')).toEqual({ wait: 30 });
      expect(rig.sandbox.stats.requests).toBe(0);
      const signalled = Date.now();
      w.child.kill('SIGINT');
      const { code, at } = await w.exited();
      expect(code).toBe(0);
      expect(at - signalled).toBeLessThan(5000);
      expect(rig.sandbox.stats.accepted).toBe(30);
      expect(await rig.inspector.counts('c')).toMatchObject({ completed: 30, active: 0 });
    } finally {
      await stopped(w.child);
    }
  });

  it('on a second signal hands back the batches in flight at once, without waiting for the gateway', async () => {
    // The gateway takes 5 s to answer; the drain deadline is 20 s (the default).
    rig = await createRig('second', { latencyMs: 5000 });
    await rig.producer.enqueue('c', sampleMessages(40, 1));
    const w = startCliWorker(rig);
    try {
      await waitFor(() => rig.sandbox.stats.requests >= 2, 'packages on the wire', 20_000);
      const signalled = Date.now();
      w.child.kill('SIGTERM');
      await waitFor(() => w.logs().includes('worker stopping'), 'the drain to begin', 5000);
      w.child.kill('SIGTERM');
      const { code, at } = await w.exited();
      expect(code).toBe(0);
      expect(at - signalled).toBeLessThan(3000);
      expect(w.logs()).toContain('second signal: handing back batches in flight');
      // Handed back: nothing active or failed, every message waits for the next worker.
      expect(await messageCounts(rig.queue, 'active', 'failed')).toEqual({ active: 0, failed: 0 });
      expect(await rig.inspector.counts('c')).toMatchObject({ active: 0, waiting: 40 });
    } finally {
      await stopped(w.child);
    }
  });

  it('exits 0 on SIGTERM while still starting, even on a Redis that never answers', async () => {
    rig = await createRig('starting');
    // A TCP server that accepts and never speaks: ioredis waits for its ready check forever.
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const w = startCliWorker(rig, ['--shutdown-timeout-ms', '500'], `redis://127.0.0.1:${port}`);
    try {
      await waitFor(() => sockets.length > 0, 'the worker to connect', 20_000, 10);
      const signalled = Date.now();
      w.child.kill('SIGTERM');
      const { code, at } = await w.exited();
      expect(code).toBe(0);
      expect(at - signalled).toBeLessThan(3000);
      expect(w.logs()).toContain('worker stopped while starting');
    } finally {
      await stopped(w.child);
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('hands back what is in flight when the shutdown deadline passes, and a later worker recovers it', async () => {
    rig = await createRig('deadline', { latencyMs: 4000 });
    await rig.producer.enqueue('c', sampleMessages(40, 1));
    const w = startCliWorker(rig, ['--shutdown-timeout-ms', '300', '--timeout-ms', '10000']);
    try {
      await waitFor(
        () => rig.sandbox.stats.accepted >= 20,
        'the gateway to have taken a package',
        20_000,
      );
      const signalled = Date.now();
      w.child.kill('SIGTERM');
      const { code, at } = await w.exited();
      expect(code).toBe(0);
      expect(at - signalled).toBeLessThan(3000);
      expect(await messageCounts(rig.queue, 'active', 'failed')).toEqual({ active: 0, failed: 0 });
      expect(await rig.inspector.counts('c')).toMatchObject({
        active: 0,
        waiting: 40,
        completed: 0,
      });
    } finally {
      await stopped(w.child);
    }
    // The gateway took those packages although their answers never arrived: 208, then recovered.
    rig.sandbox.options.latencyMs = 0;
    await rig.startWorker();
    await waitFor(
      async () => (await messageCounts(rig.queue, 'completed'))['completed'] === 40,
      'all completed',
    );
    for (const job of await messages(rig.queue, ['completed'])) {
      expect(job.returnvalue.msgId).toBe(rig.sandbox.accepted.get(job.data.message.id)?.msgId);
    }
    expect(rig.sandbox.stats.duplicates).toBeGreaterThanOrEqual(20);
  });
});
