/**
 * The dashboard: bull-board for the queue(s), on express, behind HTTP basic auth when a user and
 * password are configured. Read and write like bull-board itself (retry, remove, promote); the
 * campaign controls stay in the CLI and library, where they keep the campaign counts in step.
 */
import { assertQueueName, checkKnownKeys, optionKeys } from '../options.js';
import { timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import express, { type RequestHandler } from 'express';
import { expand, SharedCache } from '../campaign/shared.js';
import { InvalidOptionError } from '../errors.js';
import type { SendJobData } from '../job.js';

import {
  closeRedis,
  DEFAULT_REDIS_URL,
  openRedis,
  queuePrefix,
  type OwnedRedis,
  type RedisConnection,
} from '../redis.js';

export interface DashboardOptions {
  /** @defaultValue `redis://127.0.0.1:6379` */
  connection?: RedisConnection;
  /** Queues to show. @defaultValue `['viber']` */
  queueNames?: string[];
  /** @defaultValue `bull` */
  prefix?: string;
  /** @defaultValue 3000 (0: any free port) */
  port?: number;
  /** @defaultValue `127.0.0.1` */
  host?: string;
  /** Basic auth; both or neither. */
  user?: string;
  password?: string;
  /**
   * Redis errors of the dashboard's queues (Redis down, say); the pages then show the failure.
   * Without it BullMQ prints each one with its stack on stderr.
   */
  onError?: (err: Error) => void;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function basicAuth(user: string, password: string): RequestHandler {
  return (req, res, next) => {
    const header = req.headers.authorization ?? '';
    const [scheme, encoded] = header.split(' ');
    if (scheme === 'Basic' && encoded) {
      const decoded = Buffer.from(encoded, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (
        i >= 0 &&
        sameSecret(decoded.slice(0, i), user) &&
        sameSecret(decoded.slice(i + 1), password)
      ) {
        next();
        return;
      }
    }
    res
      .set('WWW-Authenticate', 'Basic realm="viber-bulk", charset="UTF-8"')
      .status(401)
      .send('authentication required');
  };
}

export interface Dashboard {
  url: string;
  close(): Promise<void>;
}

const KNOWN = optionKeys<DashboardOptions>({
  connection: true,
  queueNames: true,
  prefix: true,
  port: true,
  host: true,
  user: true,
  password: true,
  onError: true,
});

export async function startDashboard(opts: DashboardOptions = {}): Promise<Dashboard> {
  checkKnownKeys('dashboard', opts, KNOWN);
  if ((opts.user === undefined) !== (opts.password === undefined)) {
    throw new InvalidOptionError(
      'dashboard basic auth needs both a user and a password (DASHBOARD_USER and DASHBOARD_PASSWORD)',
    );
  }
  const names = (opts.queueNames ?? ['viber']).map((n) => assertQueueName(n));
  const connection = opts.connection ?? DEFAULT_REDIS_URL;
  const prefixes = names.map((n) => queuePrefix(connection, n, opts.prefix));
  const redis: OwnedRedis = await openRedis(connection, 'worker');
  const queues = names.map(
    (n, i) => new Queue(n, { connection: redis.client, prefix: prefixes[i] as string }),
  );
  const onError = opts.onError ?? (() => undefined);
  for (const q of queues) q.on('error', onError);
  const adapter = new ExpressAdapter();
  adapter.setBasePath('/');
  // Jobs name their campaign's shared fields instead of carrying them: the job view shows them
  // merged back (bull-board's formatter is synchronous, so the sets are read ahead, every 5 s).
  const caches = queues.map((q) => new SharedCache(redis.client, q.toKey('')));
  const refresh = (): Promise<unknown> =>
    Promise.all(caches.map((c) => c.loadAll())).catch(() => undefined);
  await refresh();
  const refresher = setInterval(() => void refresh(), 5000);
  refresher.unref();
  const adapters = queues.map((q, i) => {
    const a = new BullMQAdapter(q);
    a.setFormatter('data', (data: Partial<SendJobData>) => {
      const fields = (caches[i] as SharedCache).get(data?.shared);
      return fields && data.message ? { ...data, message: expand(data.message, fields) } : data;
    });
    return a;
  });
  createBullBoard({
    queues: adapters,
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'viber-bulk' } },
  });
  const app = express();
  app.disable('x-powered-by');
  if (opts.user !== undefined && opts.password !== undefined)
    app.use(basicAuth(opts.user, opts.password));
  app.use('/', adapter.getRouter());
  const host = opts.host ?? '127.0.0.1';
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(opts.port ?? 3000, host, (err?: Error) =>
      err ? reject(err) : resolve(s),
    );
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}/`,
    close() {
      closing ??= (async () => {
        clearInterval(refresher);
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await Promise.all(queues.map((q) => q.close()));
        if (redis.owned) await closeRedis(redis.client);
      })();
      return closing;
    },
  };
}
