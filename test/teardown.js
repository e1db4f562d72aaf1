/**
 * Jest's global teardown (jest.config.js): after the whole run, nothing of the tests' is left
 * behind. Fails the run, naming what it found, if
 * - any `vbtest-*` key is still in the shared Redis (every test drops its queue), or
 * - any process started for a test still runs: a `viber-bulk` child whose VIBER_QUEUE is a
 *   `vbtest-*` queue, or a private redis-server whose data folder is a `vb-*` temp folder (chaos).
 * Processes are matched by what the tests give them, so a developer's own worker is left alone.
 * Plain JavaScript: jest loads it outside the TypeScript transform.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

function read(path) {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return ''; // gone meanwhile
  }
}

function cwd(pid) {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return '';
  }
}

/** Processes the tests started that are still alive: "pid: command line". */
function leftProcesses() {
  const out = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmd = read(`/proc/${pid}/cmdline`).split('\0').join(' ').trim();
    if (cmd === '') continue;
    const env = read(`/proc/${pid}/environ`);
    const ourWorker = /dist\/cli\/main\.js/.test(cmd) && /(^|\0)VIBER_QUEUE=vbtest-/.test(env);
    // redis-server rewrites its command line, but runs in its --dir: a vb-* temp folder of ours.
    const ourRedis = /^redis-server/.test(cmd) && /\/vb-[\w.-]+$/.test(cwd(pid));
    if (ourWorker || ourRedis) out.push(`${pid}: ${cmd.slice(0, 160)}`);
  }
  return out;
}

async function leftKeys() {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    const found = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', '*vbtest-*', 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0' && found.length < 20);
    return found;
  } finally {
    redis.disconnect();
  }
}

export default async function teardown() {
  // A child killed in a test's teardown may take a moment to be reaped.
  let procs = leftProcesses();
  for (let i = 0; i < 20 && procs.length > 0; i++) {
    await sleep(100);
    procs = leftProcesses();
  }
  const keys = await leftKeys();
  const problems = [];
  if (procs.length > 0) problems.push(`processes still running:\n  ${procs.join('\n  ')}`);
  if (keys.length > 0)
    problems.push(`keys left in ${REDIS_URL}:\n  ${keys.slice(0, 20).join('\n  ')}`);
  if (problems.length > 0) {
    throw new Error(`the tests left things behind (test/teardown.js):\n${problems.join('\n')}`);
  }
}
