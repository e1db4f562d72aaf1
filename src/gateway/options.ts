import { InvalidOptionError } from '../errors.js';
import { checkKnownKeys, intInRange, optionKeys, stripUndefined } from '../options.js';

/** Options of the gateway client (one per worker process). */
export interface GatewayOptions {
  /**
   * Full URL of the XML endpoint.
   * @defaultValue `https://alphasms.ua/api/xml.php`
   */
  url?: string;
  /** The API key. Required. It is only ever written into request bodies. */
  apiKey: string;
  /**
   * Keep-alive connections to the gateway.
   * @defaultValue 8
   */
  connections?: number;
  /**
   * TCP/TLS connect timeout, ms.
   * @defaultValue 5000
   */
  connectTimeoutMs?: number;
  /**
   * Time allowed for one whole attempt — connect, headers and the whole body — ms: an answer that
   * trickles in byte by byte is cut off here and the attempt fails as a transport failure (retried;
   * a package the gateway took answers 208 and is recovered). Keep it well under the worker's
   * lockDuration so a slow answer cannot outlive the job's lock.
   * @defaultValue 15000
   */
  timeoutMs?: number;
  /**
   * Largest answer read, bytes: past it the body is abandoned and the attempt fails as a
   * transport failure (GATEWAY_ANSWER_TOO_LARGE, retried). A 50-message send answer is ~5 KB, a
   * 200-id status answer ~30 KB.
   * @defaultValue 4194304 (4 MiB)
   */
  maxAnswerBytes?: number;
  /**
   * Retries of a request that failed in transit (connection errors, timeouts, HTTP 5xx/429,
   * unparseable bodies), with exponential backoff and jitter, before the batch's jobs fail
   * this attempt.
   * @defaultValue 3
   */
  retries?: number;
  /**
   * First retry delay, ms (doubles each retry, randomised ×1–2).
   * @defaultValue 200
   */
  retryMinDelayMs?: number;
  /**
   * Longest retry delay, ms.
   * @defaultValue 5000
   */
  retryMaxDelayMs?: number;
}

export type ResolvedGatewayOptions = Required<GatewayOptions>;

export const GATEWAY_DEFAULTS = {
  url: 'https://alphasms.ua/api/xml.php',
  connections: 8,
  connectTimeoutMs: 5000,
  timeoutMs: 15_000,
  maxAnswerBytes: 4 * 1024 * 1024,
  retries: 3,
  retryMinDelayMs: 200,
  retryMaxDelayMs: 5000,
} as const;

const KNOWN = optionKeys<GatewayOptions>({
  url: true,
  apiKey: true,
  connections: true,
  connectTimeoutMs: true,
  timeoutMs: true,
  maxAnswerBytes: true,
  retries: true,
  retryMinDelayMs: true,
  retryMaxDelayMs: true,
});

/** INVALID_OPTION for a key GatewayOptions does not have (`{ key }` for `{ apiKey }`, say). */
export function checkGatewayKeys(opts: GatewayOptions): void {
  checkKnownKeys('gateway', opts, KNOWN);
}

export function resolveGatewayOptions(opts: GatewayOptions): ResolvedGatewayOptions {
  checkGatewayKeys(opts);
  const o = { ...GATEWAY_DEFAULTS, ...stripUndefined(opts) };
  if (typeof o.apiKey !== 'string' || o.apiKey.trim() === '') {
    throw new InvalidOptionError(
      'apiKey is required (CLI: set ALPHASMS_API_KEY to the key from your AlphaSMS account)',
    );
  }
  let u: URL;
  try {
    u = new URL(o.url);
  } catch {
    throw new InvalidOptionError(
      `url must be an absolute http(s) URL (got ${JSON.stringify(o.url)})`,
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new InvalidOptionError(`url must use http or https (got ${u.protocol})`);
  }
  return {
    ...o,
    apiKey: o.apiKey,
    connections: intInRange('connections', o.connections, 1, 1024),
    connectTimeoutMs: intInRange('connectTimeoutMs', o.connectTimeoutMs, 1, 600_000),
    timeoutMs: intInRange('timeoutMs', o.timeoutMs, 1, 600_000),
    maxAnswerBytes: intInRange('maxAnswerBytes', o.maxAnswerBytes, 1024, 1024 * 1024 * 1024),
    retries: intInRange('retries', o.retries, 0, 100),
    retryMinDelayMs: intInRange('retryMinDelayMs', o.retryMinDelayMs, 0, 600_000),
    retryMaxDelayMs: intInRange('retryMaxDelayMs', o.retryMaxDelayMs, 0, 600_000),
  };
}
