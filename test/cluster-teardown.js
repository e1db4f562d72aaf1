/**
 * Jest global teardown of `npm run test:cluster`: the cluster's servers and folder go; then the
 * usual checks (test/teardown.js): nothing left in the shared Redis, no process left running.
 */
import { rmSync } from 'node:fs';
import checkNothingLeft from './teardown.js';

export default async function teardown() {
  const c = globalThis.__vbCluster;
  if (!c) return checkNothingLeft();
  await Promise.all(
    c.procs.map(
      (p) =>
        new Promise((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          p.once('exit', resolve);
          p.kill('SIGKILL');
        }),
    ),
  );
  rmSync(c.dir, { recursive: true, force: true });
  await checkNothingLeft();
}
