/**
 * The sandbox's own ceiling, the send row's physical limit on this machine: `n` messages in
 * pre-built 50-message packages (built by our own XML builder before the clock starts), POSTed 8 at
 * a time with undici, no Redis at all. The sandbox parses every package on the same two cores, so
 * no worker can send faster than this. Prints the milliseconds it took.
 *   node ceiling.js <url> <n> <api key>
 */
import { Pool } from 'undici';
import { buildSendPackage } from '../src/xml/build.js';
import { message } from './lib.js';

const [url, nText, key] = process.argv.slice(2);
const n = Number(nText);
const bodies: string[] = [];
for (let i = 1; i <= n; i += 50) {
  const msgs = [];
  for (let id = i; id < Math.min(i + 50, n + 1); id++) msgs.push(message(id));
  bodies.push(buildSendPackage(key ?? '', msgs));
}
const origin = new URL(url ?? '');
const pool = new Pool(origin.origin, { connections: 8 });
let next = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++] as string;
      const res = await pool.request({
        path: '/api/xml.php',
        method: 'POST',
        headers: { 'content-type': 'text/xml; charset=utf-8' },
        body,
      });
      const text = await res.body.text();
      if (res.statusCode !== 200 || !text.includes('msg_id')) throw new Error(text.slice(0, 200));
    }
  }),
);
process.stdout.write(String(performance.now() - started));
await pool.close();
