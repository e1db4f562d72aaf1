/**
 * A worker's webhook options (library: `createWorker({ webhook })`; CLI: `--webhook-url`,
 * `--webhook-secret`, …). The secret stays in the signer the sender holds: it is never in Redis,
 * a log line, an error or the options a worker shows (`webhookView`).
 */
import { Webhook } from 'standardwebhooks';
import { InvalidOptionError } from '../errors.js';
import { checkKnownKeys, intInRange, optionKeys, stripUndefined } from '../options.js';

export interface WebhookOptions {
  /** Where events are POSTed: an http: or https: URL. */
  url: string;
  /**
   * The signing secret (Standard Webhooks): `whsec_<base64 key>`, or any other text, used as its
   * UTF-8 bytes.
   */
  secret: string;
  /**
   * Most events in one request.
   * @defaultValue 100
   */
  batchSize?: number;
  /**
   * How long events gather before a request that is not full goes, ms.
   * @defaultValue 1000
   */
  flushMs?: number;
  /**
   * Deadline of one whole request (connect, send, answer), ms.
   * @defaultValue 10000
   */
  timeoutMs?: number;
  /**
   * How long an event is retried after its first failed delivery before it is given up (kept for
   * `viber-bulk webhooks --failed`), ms.
   * @defaultValue 86400000 (24 h)
   */
  retryForMs?: number;
  /**
   * First wait after a failed request, ms; doubles each time (with jitter) up to retryMaxDelayMs.
   * @defaultValue 1000
   */
  retryDelayMs?: number;
  /**
   * Longest wait between two attempts at an event, ms.
   * @defaultValue 3600000 (1 h)
   */
  retryMaxDelayMs?: number;
  /**
   * Most events the queue's outbox holds (waiting, being retried or given up); past it, new events
   * are dropped, counted and warned about.
   * @defaultValue 1000000
   */
  outboxLimit?: number;
  /**
   * Requests in flight at once from this worker process.
   * @defaultValue 2
   */
  concurrency?: number;
}

export type ResolvedWebhookOptions = Required<Omit<WebhookOptions, 'secret'>> & {
  /** The signer holding the secret. */
  signer: Webhook;
};

/** The options as a worker shows them: the URL without credentials or query, no secret. */
export type WebhookOptionsView = Omit<ResolvedWebhookOptions, 'signer'>;

const DEFAULTS = {
  batchSize: 100,
  flushMs: 1000,
  timeoutMs: 10_000,
  retryForMs: 86_400_000,
  retryDelayMs: 1000,
  retryMaxDelayMs: 3_600_000,
  outboxLimit: 1_000_000,
  concurrency: 2,
} as const;

const KNOWN = optionKeys<WebhookOptions>({
  url: true,
  secret: true,
  batchSize: true,
  flushMs: true,
  timeoutMs: true,
  retryForMs: true,
  retryDelayMs: true,
  retryMaxDelayMs: true,
  outboxLimit: true,
  concurrency: true,
});

/** A URL as logs may show it: scheme, host and path; no user, password or query. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

/** The signer of a secret: `whsec_` + base64, as Standard Webhooks writes keys, else its UTF-8 bytes. */
export function signerOf(secret: string): Webhook {
  if (typeof secret !== 'string' || secret === '') {
    throw new InvalidOptionError(
      'webhook.secret is required (CLI --webhook-secret, WEBHOOK_SECRET)',
    );
  }
  if (secret.startsWith('whsec_')) {
    const b64 = secret.slice('whsec_'.length);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) {
      throw new InvalidOptionError(
        'webhook.secret starts with whsec_ but what follows is not base64 (the secret is not shown)',
      );
    }
    return new Webhook(secret);
  }
  return new Webhook(new TextEncoder().encode(secret), { format: 'raw' });
}

export function resolveWebhookOptions(opts: WebhookOptions): ResolvedWebhookOptions {
  if (!opts || typeof opts !== 'object') {
    throw new InvalidOptionError('webhook options must be an object: { url, secret }');
  }
  checkKnownKeys('webhook', opts, KNOWN);
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    throw new InvalidOptionError(
      `webhook.url must be an http: or https: URL (got ${JSON.stringify(String(opts.url).slice(0, 200))})`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidOptionError(`webhook.url must be http: or https: (got ${url.protocol})`);
  }
  const o = { ...DEFAULTS, ...stripUndefined(opts) };
  return {
    url: url.href,
    signer: signerOf(opts.secret),
    batchSize: intInRange('webhook.batchSize', o.batchSize, 1, 1000),
    flushMs: intInRange('webhook.flushMs', o.flushMs, 10, 60_000),
    timeoutMs: intInRange('webhook.timeoutMs', o.timeoutMs, 100, 600_000),
    retryForMs: intInRange('webhook.retryForMs', o.retryForMs, 0, 30 * 86_400_000),
    retryDelayMs: intInRange('webhook.retryDelayMs', o.retryDelayMs, 1, 86_400_000),
    retryMaxDelayMs: intInRange('webhook.retryMaxDelayMs', o.retryMaxDelayMs, 1, 86_400_000),
    outboxLimit: intInRange('webhook.outboxLimit', o.outboxLimit, 1, 100_000_000),
    concurrency: intInRange('webhook.concurrency', o.concurrency, 1, 64),
  };
}

export function webhookView(o: ResolvedWebhookOptions): WebhookOptionsView {
  const { signer: _secret, ...rest } = o;
  return { ...rest, url: shownUrl(o.url) };
}
