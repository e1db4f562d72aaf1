/**
 * A Sentinel-managed primary/replica pair on this machine, no Docker: a primary, a replica of it,
 * and three sentinels (`redis-server sentinel.conf --sentinel`, quorum 2) that fail over within
 * about two seconds of the primary dying.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { redisAnswers } from '../src/redis.js';
import { killServers } from './local-cluster.js';

export const MASTER_NAME = 'vbprimary';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class LocalSentinel {
  readonly dir = mkdtempSync(join(tmpdir(), 'vb-sentinel-'));
  primaryPort = 0;
  replicaPort = 0;
  readonly sentinelPorts: number[] = [];
  private readonly procs = new Map<number, ChildProcess>();

  /** `host:port,…` of the sentinels, as REDIS_SENTINELS takes them. */
  get sentinels(): string {
    return this.sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',');
  }

  /** `redis-sentinel://…/name`: the connection string the project reads. */
  get url(): string {
    return `redis-sentinel://${this.sentinels}/${MASTER_NAME}`;
  }

  private server(port: number, args: string[]): void {
    this.procs.set(port, spawn('redis-server', args, { stdio: 'ignore' }));
  }

  private async up(port: number): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if (await redisAnswers(`redis://127.0.0.1:${port}`)) return;
      await sleep(50);
    }
    throw new Error(`redis-server on ${port} did not start`);
  }

  async start(): Promise<void> {
    this.primaryPort = await freePort();
    this.replicaPort = await freePort();
    const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir];
    this.server(this.primaryPort, ['--port', String(this.primaryPort), ...common]);
    await this.up(this.primaryPort);
    this.server(this.replicaPort, [
      '--port',
      String(this.replicaPort),
      ...common,
      '--replicaof',
      '127.0.0.1',
      String(this.primaryPort),
    ]);
    await this.up(this.replicaPort);
    // The replica is in sync before anything is written.
    const replica = new Redis(this.replicaPort, '127.0.0.1');
    try {
      for (let i = 0; i < 100; i++) {
        if (/master_link_status:up/.test(await replica.info('replication'))) break;
        await sleep(50);
      }
    } finally {
      replica.disconnect();
    }
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      this.sentinelPorts.push(port);
      const conf = join(this.dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${this.dir}`,
          `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${this.primaryPort} 2`,
          `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
          `sentinel failover-timeout ${MASTER_NAME} 10000`,
          `sentinel parallel-syncs ${MASTER_NAME} 1`,
          '',
        ].join('\n'),
      );
      this.server(port, [conf, '--sentinel']);
    }
    for (const p of this.sentinelPorts) await this.up(p);
    // Every sentinel knows the replica (learned from the primary's INFO) before a failover.
    for (const p of this.sentinelPorts) {
      const s = new Redis(p, '127.0.0.1');
      try {
        for (let i = 0; i < 200; i++) {
          const replicas = (await s.call('SENTINEL', 'REPLICAS', MASTER_NAME)) as unknown[];
          if (replicas.length > 0) break;
          await sleep(50);
        }
      } finally {
        s.disconnect();
      }
    }
  }

  /** kill -9 of the primary, for good. */
  async killPrimary(): Promise<void> {
    const p = this.procs.get(this.primaryPort);
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGKILL');
    await exited;
  }

  /** The port Sentinel names as the primary now. */
  async currentPrimary(): Promise<number> {
    const s = new Redis(this.sentinelPorts[0] as number, '127.0.0.1');
    try {
      const [, port] = (await s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)) as [
        string,
        string,
      ];
      return Number(port);
    } finally {
      s.disconnect();
    }
  }

  async stop(): Promise<void> {
    await killServers(this.procs.values(), this.dir);
  }
}
