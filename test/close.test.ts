/**
 * A worker's close() ends even when Redis dropped its blocking connection just before.
 *
 * BullMQ's Worker.close() waits for its blocking connection's `end` event; a connection that
 * dropped a moment earlier is `reconnecting` in ioredis, and disconnecting it then never emits
 * `end` (taskforcesh/bullmq#4656). Found as a CI failure: a CLI worker on the cluster, stopped
 * with SIGTERM, never exited. A private server here, because the test kills a client of it; a
 * client that waits 3 s before reconnecting makes the few-ms window of real life certain.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createLogger } from '../src/cli/log.js';
import { SandboxGateway } from '../src/sandbox/server.js';
import { createWorker } from '../src/worker/send-worker.js';
import { CLI, killAllCliWorkers, startCliWorker } from './cli-worker.js';
import { createRig, type Rig } from './fixture.js';
import { PrivateRedis } from './private-redis.js';
import { uniqueQueue, waitFor, within } from './helpers.js';

const RECONNECT_AFTER_MS = 3000;

/** A started private redis-server on a free-ish port. */
async function privateRedis(): Promise<PrivateRedis> {
  const r = new PrivateRedis(18_000 + Math.floor(Math.random() * 1000));
  await r.start();
  return r;
}

/** The ids of the server's clients blocked in BZPOPMIN (on a private server: the worker's). */
async function blockedClients(port: number): Promise<string[]> {
  const admin = new Redis(port, '127.0.0.1');
  try {
    const list = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'normal'));
    return [...list.matchAll(/^id=(\d+) .* cmd=bzpopmin /gm)].map((m) => m[1] as string);
  } finally {
    admin.disconnect();
  }
}

async function killClient(port: number, id: string): Promise<void> {
  const admin = new Redis(port, '127.0.0.1');
  try {
    expect(Number(await admin.client('KILL', 'ID', id))).toBe(1);
  } finally {
    admin.disconnect();
  }
}

describe('closing a worker whose blocking Redis connection just dropped', () => {
  let server: PrivateRedis | undefined;
  let client: Redis | undefined;
  let sandbox: SandboxGateway | undefined;
  afterEach(async () => {
    client?.disconnect();
    await sandbox?.close();
    await server?.stop();
    client = sandbox = server = undefined;
  });

  it('resolves (BullMQ alone would wait for ever), and BullMQ itself finishes closing', async () => {
    server = await privateRedis();
    const { port } = server;
    // BullMQ's blocking connection is a duplicate of this one: same slow reconnect.
    client = new Redis(port, '127.0.0.1', {
      maxRetriesPerRequest: null,
      retryStrategy: () => RECONNECT_AFTER_MS,
    });
    const apiKey = 'key-close-0123456789abcdef';
    sandbox = new SandboxGateway({ apiKey });
    await sandbox.start();
    let logs = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logs += chunk.toString();
        done();
      },
    });
    const worker = await createWorker({
      connection: client,
      queueName: uniqueQueue('close'),
      gateway: { url: sandbox.url, apiKey },
      track: false,
      logger: createLogger('info', 'json', sink),
    });
    try {
      await worker.waitUntilReady();
      const [blocked] = await waitFor(async () => {
        const ids = await blockedClients(port);
        return ids.length > 0 ? ids : undefined;
      }, 'the worker to block on its queue');
      // Only the blocking connection drops: the rest of close() reaches BullMQ at once, while
      // that connection still waits to reconnect.
      await killClient(port, blocked as string);
      await sleep(200);
      await within(worker.close(), 15_000, 'close() after the drop');
      // BullMQ's own close finished too (its lock and stalled-check timers stopped), once the
      // connection it waited for was ended.
      expect(logs).toContain('ending its blocking Redis connection');
      expect(logs).not.toContain('going on without it');
    } finally {
      // Idempotent. After a failure above a hung close stays hung (the bug this file is about)
      // and Jest reports the open handle.
      void worker.close();
    }
  });
});

describe('stopping a CLI worker while its Redis is down', () => {
  let server: PrivateRedis | undefined;
  let rig: Rig | undefined;
  afterEach(async () => {
    killAllCliWorkers();
    await server?.stop();
    await rig?.close();
    server = rig = undefined;
  });

  it('exits 0 soon after the drain deadline instead of waiting for Redis for ever', async () => {
    server = await privateRedis();
    rig = await createRig('redisdown');
    const w = startCliWorker(rig, ['--shutdown-timeout-ms', '2000'], server.url);
    await waitFor(() => w.logs().includes('worker started'), 'the worker to start', 20_000);
    await server.stop();
    server = undefined;
    await sleep(300);
    w.child.kill('SIGTERM');
    // Deadline 2 s, then BullMQ's 2 s grace: well inside 15 s. Before, it never exited.
    const { code } = await w.exited(15_000);
    expect(code).toBe(0);
    expect(
      w.lines(
        'Redis is unreachable at the shutdown deadline: dropping the connection; other workers recover what was in flight',
      ),
    ).toHaveLength(1);
    expect(w.logs()).toContain('worker closed');
  });
});

describe('stopping the dashboard while its Redis is down', () => {
  let server: PrivateRedis | undefined;
  let child: ChildProcess | undefined;
  afterEach(async () => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    await server?.stop();
    server = child = undefined;
  });

  it('says once that Redis is unreachable (no stack per retry) and exits 0 on SIGTERM', async () => {
    server = await privateRedis();
    const proc = spawn(process.execPath, [CLI, 'dashboard', '--port', '0'], {
      env: {
        ...process.env,
        REDIS_URL: server.url,
        VIBER_QUEUE: uniqueQueue('dashdown'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve));
    await waitFor(() => out.includes('dashboard at http://'), 'the dashboard to start', 20_000);
    await server.stop();
    server = undefined;
    await sleep(1500); // a few reconnect attempts
    proc.kill('SIGTERM');
    expect(await within(exited, 15_000, 'the dashboard to exit')).toBe(0);
    expect(out.match(/dashboard: Redis error: connect ECONNREFUSED/g)).toHaveLength(1);
    expect(out).not.toContain('TCPConnectWrap');
  });
});

describe('a CLI worker that cannot finish starting', () => {
  let rig: Rig | undefined;
  afterEach(async () => {
    killAllCliWorkers();
    await rig?.close();
    rig = undefined;
  });

  it('stops the worker it already started and exits 1 when its metrics port is taken', async () => {
    rig = await createRig('metricsport');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '0.0.0.0', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const w = startCliWorker(rig, ['--metrics-port', String(port)]);
      const { code } = await w.exited(15_000);
      expect(code).toBe(1);
      expect(w.lines('cannot serve metrics; stopping')).toHaveLength(1);
      expect(w.logs()).not.toContain('worker started');
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
