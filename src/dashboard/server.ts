/**
 * The dashboard: the campaign console (`/`, `/campaigns/<name>`, its JSON API under `/api`) for
 * the first queue, and bull-board for the queue(s) at `/queues`, read-only; on express, behind a
 * Host check and, when a user and password are configured, HTTP basic auth (guard.ts says what
 * each stops). Without them it serves loopback only and the console has no controls; with them
 * its Pause, Resume, Cancel and Retry failed call the library functions the CLI calls.
 */
import { assertQueueName, checkKnownKeys, optionKeys } from '../options.js';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import express, { type NextFunction, type Request, type Response } from 'express';
import { randomBytes } from 'node:crypto';
import { basicAuth, hostCheck, isLoopback, servedHosts, writeGuard } from './guard.js';
import { consoleApi } from './console-api.js';
import { consolePages } from './console-pages.js';
import { CampaignStore } from '../campaign/store.js';
import { Inspector } from '../inspect/inspector.js';
import { PackageView } from './package-view.js';
import { InvalidOptionError } from '../errors.js';
import type { PackageJobData } from '../job.js';

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
  /** Any other address than loopback needs `user` and `password`. @defaultValue `127.0.0.1` */
  host?: string;
  /**
   * Names it answers to besides the address it listens on (a proxy's or a DNS name), as
   * `name:port` or `name` (then with its port); a request with any other `Host` gets 421.
   */
  allowedHosts?: string[];
  /** Basic auth; both or neither (an empty string counts as unset). */
  user?: string;
  password?: string;
  /**
   * Redis errors of the dashboard's queues (Redis down, say); the pages then show the failure.
   * Without it BullMQ prints each one with its stack on stderr.
   */
  onError?: (err: Error) => void;
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
  allowedHosts: true,
  user: true,
  password: true,
  onError: true,
});

export async function startDashboard(opts: DashboardOptions = {}): Promise<Dashboard> {
  checkKnownKeys('dashboard', opts, KNOWN);
  const user = opts.user || undefined;
  const password = opts.password || undefined;
  if ((user === undefined) !== (password === undefined)) {
    throw new InvalidOptionError(
      'dashboard basic auth needs both a user and a password (DASHBOARD_USER and DASHBOARD_PASSWORD)',
    );
  }
  const host = opts.host ?? '127.0.0.1';
  if (user === undefined && !isLoopback(host)) {
    throw new InvalidOptionError(
      `the dashboard serves ${host} only behind basic auth: set DASHBOARD_USER and DASHBOARD_PASSWORD, or keep --host on loopback (127.0.0.1)`,
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
  adapter.setBasePath('/queues');
  // Package jobs name their package: the job view shows the messages it holds (read ahead).
  const views = queues.map((q) => new PackageView(redis.client, q.toKey('')));
  const refresh = (): Promise<unknown> =>
    Promise.all(views.map((v) => v.refresh())).catch(() => undefined);
  await refresh();
  const refresher = setInterval(() => void refresh(), 5000);
  refresher.unref();
  const adapters = queues.map((q, i) => {
    const a = new BullMQAdapter(q, { readOnlyMode: true });
    a.setFormatter('data', (data: Partial<PackageJobData>) =>
      (views[i] as PackageView).format(data),
    );
    return a;
  });
  createBullBoard({
    queues: adapters,
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'viber-bulk' } },
  });
  const app = express();
  app.disable('x-powered-by');
  let allowed = new Set<string>();
  app.use(hostCheck(() => allowed));
  if (user !== undefined && password !== undefined) app.use(basicAuth(user, password));
  const controls = user !== undefined;
  const token = randomBytes(32).toString('base64url');
  app.use(
    writeGuard({
      controls,
      token,
      // Its own hosts, over http or https (a TLS proxy in front keeps the Host it was given).
      origins: () => new Set([...allowed].flatMap((h) => [`http://${h}`, `https://${h}`])),
    }),
  );
  const store = new CampaignStore(redis.client, (queues[0] as Queue).toKey(''));
  const inspector = new Inspector({
    connection: redis.client,
    queueName: names[0],
    prefix: opts.prefix,
  });
  app.use('/api', consoleApi({ store, queue: queues[0] as Queue, inspector }));
  app.use('/', consolePages({ queue: names[0] as string, controls, token }));
  app.use('/queues', adapter.getRouter());
  // Errors answer with their status and, below 500, their message; never a stack.
  app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    const status = err.status && err.status >= 400 && err.status < 600 ? err.status : 500;
    if (status >= 500) onError(err);
    res.status(status).json({ error: status < 500 ? err.message : 'internal error' });
  });
  const wanted = opts.port ?? 3000;
  let server: Server;
  try {
    server = await new Promise<Server>((resolve, reject) => {
      // Express 5 hands a listen error to the callback.
      const s = app.listen(wanted, host, (err?: Error) => (err ? reject(err) : resolve(s)));
    });
  } catch (err) {
    clearInterval(refresher);
    await Promise.all(queues.map((q) => q.close().catch(() => undefined)));
    await inspector.close();
    if (redis.owned) await closeRedis(redis.client);
    const code = (err as { code?: string }).code;
    throw new InvalidOptionError(
      code === 'EADDRINUSE'
        ? `dashboard port ${wanted} on ${host} is taken (EADDRINUSE): choose another with --port`
        : `dashboard cannot listen on ${host}:${wanted}: ${(err as Error).message}`,
    );
  }
  const port = (server.address() as AddressInfo).port;
  allowed = servedHosts(host, port, opts.allowedHosts ?? []);
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}/`,
    close() {
      closing ??= (async () => {
        clearInterval(refresher);
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await Promise.all(queues.map((q) => q.close()));
        await inspector.close();
        if (redis.owned) await closeRedis(redis.client);
      })();
      return closing;
    },
  };
}
