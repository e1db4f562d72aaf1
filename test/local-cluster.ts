/**
 * A real Redis Cluster on this machine, no Docker: three `redis-server --cluster-enabled yes` on
 * free ports, joined by `redis-cli --cluster create … --cluster-replicas 0`. Three masters, so a
 * script that touches a key of another slot fails (a one-node cluster would not catch it).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startClusterServers } from './cluster-servers.js';

export class LocalCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'vb-cluster-'));
  readonly ports: number[] = [];
  private readonly procs: ChildProcess[] = [];

  /** `redis-cluster://127.0.0.1:p1,…`: the connection string the project reads. */
  get url(): string {
    return `redis-cluster://${this.ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  }

  async start(masters = 3): Promise<void> {
    const { ports, procs } = await startClusterServers(masters, this.dir);
    this.ports.push(...ports);
    this.procs.push(...procs);
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
