/**
 * Jest global setup of `npm run test:cluster`: three `redis-server --cluster-enabled yes` on free
 * ports, joined with `redis-cli --cluster create`; the suites read VB_TEST_REDIS (test/helpers.ts).
 * Plain JavaScript, and so a short copy of LocalCluster.start (test/local-cluster.ts): Jest runs
 * global setup outside its module mapping, where the TypeScript helper cannot be imported (tried).
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

function canListen(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function freePort() {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await canListen(port)) && (await canListen(port + 10_000))) return port;
  }
}

export default async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'vb-cluster-suite-'));
  const ports = [];
  const procs = [];
  for (let i = 0; i < 3; i++) {
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
    for (let i = 0; i < 100; i++) {
      try {
        execFileSync('redis-cli', ['-p', String(port), 'ping'], { stdio: 'pipe' });
        break;
      } catch {
        await sleep(50);
      }
    }
  }
  execFileSync(
    'redis-cli',
    [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ],
    { stdio: 'pipe' },
  );
  for (const port of ports) {
    for (let i = 0; i < 200; i++) {
      const info = execFileSync('redis-cli', ['-p', String(port), 'cluster', 'info']).toString();
      if (info.includes('cluster_state:ok')) break;
      await sleep(50);
    }
  }
  process.env['VB_TEST_REDIS'] = `redis-cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  globalThis.__vbCluster = { procs, dir };
}
