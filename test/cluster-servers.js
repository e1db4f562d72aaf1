/**
 * Starts a real Redis Cluster on this machine, no Docker: `masters` × `redis-server
 * --cluster-enabled yes` on free ports (each with its bus port + 10000 free), joined by `redis-cli
 * --cluster create … --cluster-replicas 0`, and waits until every node serves all slots.
 * Plain JavaScript with no imports of ours, so that both Jest's global setup of `npm run
 * test:cluster` (which runs outside Jest's module mapping) and test/local-cluster.ts use it.
 */
import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

function canListen(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function freePort() {
  // Cluster bus ports are port + 10000: keep both under 65536.
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await canListen(port)) && (await canListen(port + 10_000))) return port;
  }
}

async function cli(port, ...args) {
  return (await run('redis-cli', ['-p', String(port), ...args])).stdout;
}

/**
 * @param {number} masters
 * @param {string} dir where the nodes keep their cluster config files
 * @returns {Promise<{ ports: number[], procs: import('node:child_process').ChildProcess[] }>}
 *   the caller stops the processes (killServers in test/local-cluster.ts)
 */
export async function startClusterServers(masters, dir) {
  const ports = [];
  const procs = [];
  for (let i = 0; i < masters; i++) {
    const port = await freePort();
    ports.push(port);
    procs.push(
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
          dir,
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
  for (const port of ports) {
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      up = await cli(port, 'ping').then(
        (out) => out.trim() === 'PONG',
        () => false,
      );
      if (!up) await sleep(50);
    }
    if (!up) throw new Error(`cluster node ${port} did not start`);
  }
  await run('redis-cli', [
    '--cluster',
    'create',
    ...ports.map((p) => `127.0.0.1:${p}`),
    '--cluster-replicas',
    '0',
    '--cluster-yes',
  ]);
  // Wait until every node agrees that all slots are served.
  for (const port of ports) {
    for (let i = 0; i < 200; i++) {
      if ((await cli(port, 'cluster', 'info')).includes('cluster_state:ok')) break;
      await sleep(50);
    }
  }
  return { ports, procs };
}
