/**
 * Jest global setup of `npm run test:cluster`: three `redis-server --cluster-enabled yes` on free
 * ports, joined with `redis-cli --cluster create`; the suites read VB_TEST_REDIS (test/helpers.ts).
 * Plain JavaScript: Jest runs global setup outside its module mapping, where the TypeScript
 * helpers cannot be imported; the cluster itself is started by test/cluster-servers.js, which
 * test/local-cluster.ts uses too.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClusterServers } from './cluster-servers.js';

export default async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'vb-cluster-suite-'));
  const { ports, procs } = await startClusterServers(3, dir);
  process.env['VB_TEST_REDIS'] = `redis-cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  globalThis.__vbCluster = { procs, dir };
}
