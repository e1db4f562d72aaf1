/**
 * A real Redis Cluster on this machine, no Docker: three `redis-server --cluster-enabled yes` on
 * free ports, joined by `redis-cli --cluster create … --cluster-replicas 0`. Three masters, so a
 * script that touches a key of another slot fails (a one-node cluster would not catch it).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { redisAnswers } from '../src/redis.js';

const run = promisify(execFile);

async function freePort(): Promise<number> {
  // Cluster bus ports are port + 10000: keep both under 65536.
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    const ok = await Promise.all([port, port + 10_000].map(canListen));
    if (ok.every(Boolean)) return port;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export class LocalCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'vb-cluster-'));
  readonly ports: number[] = [];
  private readonly procs: ChildProcess[] = [];

  /** `redis-cluster://127.0.0.1:p1,…`: the connection string the project reads. */
  get url(): string {
    return `redis-cluster://${this.ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  }

  async start(masters = 3): Promise<void> {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      this.ports.push(port);
      this.procs.push(
        spawn(
          'redis-server',
          [
            '--port',
            String(port),
            '--bind',
            '127.0.0.1',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${port}.conf`,
            '--dir',
            this.dir,
            '--save',
            '',
            '--appendonly',
            'no',
            '--maxmemory-policy',
            'noeviction',
          ],
          { stdio: 'ignore' },
        ),
      );
    }
    for (const port of this.ports) {
      let up = false;
      for (let i = 0; i < 100 && !up; i++) {
        up = await redisAnswers(`redis://127.0.0.1:${port}`);
        if (!up) await sleep(50);
      }
      if (!up) throw new Error(`cluster node ${port} did not start`);
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...this.ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    // Wait until every node agrees that all slots are served.
    for (const port of this.ports) {
      const r = new Redis(port, '127.0.0.1', { lazyConnect: true });
      try {
        await r.connect();
        for (let i = 0; i < 200; i++) {
          if (/cluster_state:ok/.test(await r.cluster('INFO'))) break;
          await sleep(50);
        }
      } finally {
        r.disconnect();
      }
    }
  }

  /** The port of the master serving a key. */
  async masterOf(key: string): Promise<number> {
    const r = new Redis(this.ports[0] as number, '127.0.0.1');
    try {
      const slot = (await r.cluster('KEYSLOT', key)) as number;
      const slots = (await r.cluster('SLOTS')) as unknown as Array<
        [number, number, [string, number]]
      >;
      const owner = slots.find(([lo, hi]) => slot >= lo && slot <= hi);
      return owner?.[2][1] ?? -1;
    } finally {
      r.disconnect();
    }
  }

  async stop(): Promise<void> {
    await killServers(this.procs, this.dir);
  }
}

/** kill -9 of private servers, waiting until each has exited; then their folder goes. */
export async function killServers(procs: Iterable<ChildProcess>, dir: string): Promise<void> {
  await Promise.all(
    [...procs].map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          p.once('exit', () => resolve());
          p.kill('SIGKILL');
        }),
    ),
  );
  rmSync(dir, { recursive: true, force: true });
}
