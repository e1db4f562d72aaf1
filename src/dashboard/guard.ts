/**
 * What stands between the dashboard and the network, in the order a request meets it:
 *   1. Host check: a request whose `Host` is not an address this dashboard serves (or a name it
 *      was given) is refused, so a page on another site cannot reach it through DNS rebinding.
 *   2. Basic auth, when a user and password are set: both halves compared in constant time,
 *      through their SHA-256 digests, so neither which half was wrong nor a length shows.
 *   3. Writes: anything but GET and HEAD is refused (405) unless it is a POST to one of the
 *      console's controls (pause, resume, cancel, retry-failed) on a dashboard with credentials;
 *      bull-board never sees one (its own readOnlyMode is set too). A control request that shows
 *      another site (`Origin` not this dashboard's, or `Sec-Fetch-Site` not same-origin) gets
 *      403, and one from a browser (either header present) must carry the page's CSRF token in
 *      `X-CSRF-Token`. A script with credentials and neither header (curl) needs no token.
 * Without a user and password the dashboard listens on loopback only (startDashboard refuses
 * another host) and has no controls.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import type { RequestHandler } from 'express';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Equal strings, in time that depends on neither their contents nor their lengths. */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

export function basicAuth(user: string, password: string): RequestHandler {
  return (req, res, next) => {
    const [scheme, encoded] = (req.headers.authorization ?? '').split(' ');
    const decoded = scheme === 'Basic' && encoded ? Buffer.from(encoded, 'base64').toString() : '';
    const i = decoded.indexOf(':');
    // Both halves are always compared: a wrong user takes as long as a wrong password.
    const userOk = sameSecret(i >= 0 ? decoded.slice(0, i) : '', user);
    const passwordOk = sameSecret(i >= 0 ? decoded.slice(i + 1) : '', password);
    if (i >= 0 && userOk && passwordOk) {
      next();
      return;
    }
    res
      .set('WWW-Authenticate', 'Basic realm="viber-bulk", charset="UTF-8"')
      .status(401)
      .send('authentication required');
  };
}

/** The console's controls: the only requests that may change anything. */
const CONTROL = /^\/api\/campaigns\/[^/]+\/(?:pause|resume|cancel|retry-failed)$/;

export interface WriteGuardOptions {
  /** Controls exist only on a dashboard with credentials. */
  controls: boolean;
  /** The CSRF token the console's pages send with each control. */
  token: string;
  /** The origins (`http://host:port`) this dashboard serves. */
  origins: () => Set<string>;
}

export function writeGuard(opts: WriteGuardOptions): RequestHandler {
  return (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') {
      next();
      return;
    }
    if (!opts.controls || req.method !== 'POST' || !CONTROL.test(req.path)) {
      const why = opts.controls
        ? 'only the campaign controls change anything'
        : 'the dashboard is read-only without DASHBOARD_USER and DASHBOARD_PASSWORD';
      res
        .set('Allow', opts.controls ? 'GET, HEAD, POST' : 'GET, HEAD')
        .status(405)
        .send(why);
      return;
    }
    const origin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    if (
      (origin !== undefined && !opts.origins().has(origin.toLowerCase())) ||
      (site !== undefined && site !== 'same-origin')
    ) {
      res.status(403).json({ error: 'a request from another site changes nothing' });
      return;
    }
    const token = req.headers['x-csrf-token'];
    if (
      (origin !== undefined || site !== undefined) &&
      !(typeof token === 'string' && sameSecret(token, opts.token))
    ) {
      res.status(403).json({ error: 'missing or wrong CSRF token: reload the page' });
      return;
    }
    next();
  };
}

/** 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);

/**
 * The `Host` values a dashboard listening on host:port answers to; `extra` names given as
 * `name:port` stand as they are, bare names get the port.
 */
export function servedHosts(host: string, port: number, extra: readonly string[]): Set<string> {
  const out = new Set<string>();
  const names = new Set<string>();
  for (const e of extra.map((h) => h.toLowerCase())) {
    if (/:\d+$/.test(e)) out.add(e);
    else names.add(e);
  }
  const add = (h: string) => names.add(h.includes(':') ? `[${h}]` : h);
  if (WILDCARD.has(host)) {
    for (const list of Object.values(networkInterfaces()))
      for (const a of list ?? []) add(a.address.toLowerCase());
    add('localhost');
  } else {
    add(host.toLowerCase());
    if (isLoopback(host)) ['localhost', '127.0.0.1', '::1'].forEach(add);
  }
  for (const n of names) {
    out.add(`${n}:${port}`);
    if (port === 80) out.add(n);
  }
  return out;
}

export function hostCheck(allowed: () => Set<string>): RequestHandler {
  return (req, res, next) => {
    const host = (req.headers.host ?? '').toLowerCase();
    if (allowed().has(host)) {
      next();
      return;
    }
    res.status(421).send('unknown Host: start the dashboard with --allowed-host for this name');
  };
}
