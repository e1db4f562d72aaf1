/**
 * The HTTP side: one undici Pool per gateway origin (keep-alive), each request retried with p-retry
 * while its failure is transient. Answers are parsed here; what a parsed answer means is decided by
 * the worker through `classify` (xml/codes.ts). The API key lives in this object only and is written
 * into request bodies, nowhere else: errors are built from status codes and undici error codes.
 */
import pRetry, { AbortError } from 'p-retry';
import { Pool } from 'undici';
import {
  GatewayAnswerTooLargeError,
  GatewayConnectionError,
  GatewayHttpError,
  GatewayPackageError,
  GatewayTimeoutError,
  hasCode,
  ViberBulkError,
  XmlMalformedError,
} from '../errors.js';
import type { SmsMessage, ViberMessage } from '../message.js';
import {
  buildBalancePackage,
  buildSendPackage,
  buildSmsPackage,
  buildStatusPackage,
} from '../xml/build.js';
import { codeName } from '../xml/codes.js';
import {
  parseAnswer,
  parseSendAnswer,
  type Balance,
  type GatewayAnswer,
  type SendAnswer,
  type StatusResult,
} from '../xml/parse.js';
import {
  resolveGatewayOptions,
  type GatewayOptions,
  type ResolvedGatewayOptions,
} from './options.js';

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** Whether a failed request is worth repeating now (p-retry) — the gateway may have been fine. */
export function isTransient(err: unknown): boolean {
  if (hasCode(err, 'GATEWAY_HTTP')) {
    const s = (err as GatewayHttpError).statusCode;
    return s >= 500 || s === 429 || s === 408;
  }
  return (
    hasCode(err, 'GATEWAY_TIMEOUT') ||
    hasCode(err, 'GATEWAY_CONNECTION') ||
    hasCode(err, 'GATEWAY_ANSWER_TOO_LARGE') ||
    hasCode(err, 'XML_MALFORMED')
  );
}

/** Maps undici's errors onto ours, keeping the original as `cause`. */
function transportError(err: unknown): ViberBulkError {
  const code = (err as { code?: string }).code ?? '';
  const msg = `${code || (err as Error).name}: ${(err as Error).message}`;
  if (TIMEOUT_CODES.has(code))
    return new GatewayTimeoutError(`gateway timed out (${msg})`, { cause: err });
  return new GatewayConnectionError(`gateway connection failed (${msg})`, { cause: err });
}

/**
 * `text` with every run of 6 or more characters that also stands in `key` replaced: the whole key,
 * and a piece of it an excerpt cut in two.
 */
export function redactKey(text: string, key: string, min = 6): string {
  if (key.length < min) return text.split(key).join('[redacted]');
  let out = '';
  let i = 0;
  while (i < text.length) {
    let run = 0;
    for (let len = Math.min(key.length, text.length - i); len >= min; len--) {
      if (key.includes(text.slice(i, i + len))) {
        run = len;
        break;
      }
    }
    if (run > 0) {
      out += '[redacted]';
      i += run;
    } else {
      out += text[i];
      i++;
    }
  }
  return out;
}

/** The body as UTF-8 text, or GatewayAnswerTooLargeError once it passes `max` bytes. */
async function readCapped(body: AsyncIterable<Buffer>, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) throw new GatewayAnswerTooLargeError(max);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface RequestOptions {
  /** Aborts the request and its retries (worker shutdown). */
  signal?: AbortSignal;
}

/** One HTTP exchange with the gateway, for metrics: what was asked, how long, how it ended. */
export interface RequestObservation {
  kind: 'send' | 'status' | 'balance';
  durationMs: number;
  /** `ok` (an answer we could read), or the error code that ended this try. */
  result: string;
}

export class GatewayClient {
  readonly options: Omit<ResolvedGatewayOptions, 'apiKey'>;
  /** Called after every HTTP exchange (metrics). */
  onRequest: ((o: RequestObservation) => void) | undefined;
  /** Called when a failed exchange is about to be tried again (metrics). */
  onRetry: (() => void) | undefined;
  readonly #apiKey: string;
  readonly #pool: Pool;
  readonly #path: string;
  #closing: Promise<void> | undefined;

  constructor(opts: GatewayOptions) {
    const { apiKey, ...rest } = resolveGatewayOptions(opts);
    this.#apiKey = apiKey;
    this.options = rest;
    const u = new URL(rest.url);
    this.#path = u.pathname + u.search;
    this.#pool = new Pool(u.origin, {
      connections: rest.connections,
      connectTimeout: rest.connectTimeoutMs,
      headersTimeout: rest.timeoutMs,
      bodyTimeout: rest.timeoutMs,
      keepAliveTimeout: 10_000,
      pipelining: 1,
    });
  }

  /** The key is not enumerable or printable through this object. */
  toJSON(): object {
    return { url: this.options.url };
  }

  /**
   * POSTs one package and returns the answer body; throws typed transport errors. The whole
   * attempt has `timeoutMs` (undici's own timeouts only bound silences), and the body is read up
   * to `maxAnswerBytes`.
   */
  async #post(xml: string, signal: AbortSignal | undefined): Promise<string> {
    const deadline = AbortSignal.timeout(this.options.timeoutMs);
    const both = signal ? AbortSignal.any([signal, deadline]) : deadline;
    const failed = (err: unknown): Error => {
      if (signal?.aborted) return new AbortError(transportError(err));
      if (deadline.aborted) {
        return new GatewayTimeoutError(
          `gateway timed out (no whole answer within ${this.options.timeoutMs} ms)`,
          { cause: err },
        );
      }
      return err instanceof GatewayAnswerTooLargeError ? err : transportError(err);
    };
    let res;
    try {
      res = await this.#pool.request({
        path: this.#path,
        method: 'POST',
        headers: { 'content-type': 'text/xml; charset=utf-8' },
        body: xml,
        signal: both,
      });
    } catch (err) {
      throw failed(err);
    }
    let body: string;
    try {
      body = await readCapped(res.body, this.options.maxAnswerBytes);
    } catch (err) {
      res.body.destroy();
      throw failed(err);
    }
    if (res.statusCode !== 200) throw new GatewayHttpError(res.statusCode);
    return body;
  }

  /** One try: post, parse, report to onRequest. */
  async #exchange<T>(
    kind: RequestObservation['kind'],
    xml: string,
    signal: AbortSignal | undefined,
    read: (body: string) => T,
  ): Promise<T> {
    const started = performance.now();
    let result = 'ok';
    try {
      return read(await this.#post(xml, signal));
    } catch (err) {
      result = (err as { code?: string }).code ?? 'ERROR';
      throw this.#redacted(err);
    } finally {
      this.onRequest?.({ kind, durationMs: performance.now() - started, result });
    }
  }

  /**
   * The error with the API key cut out of its message: an answer that echoes the request (a
   * gateway or a proxy in front of it) would otherwise carry the key into failure reasons,
   * records, results and logs through the excerpt an unreadable answer is quoted by.
   */
  #redacted(err: unknown): unknown {
    if (!(err instanceof Error)) return err;
    const message = redactKey(err.message, this.#apiKey);
    if (message === err.message) return err;
    err.stack = err.stack?.replace(err.message, message);
    err.message = message;
    return err;
  }

  async #withRetries<T>(fn: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    const { retries, retryMinDelayMs, retryMaxDelayMs } = this.options;
    try {
      return await pRetry(fn, {
        retries,
        factor: 2,
        minTimeout: retryMinDelayMs,
        maxTimeout: retryMaxDelayMs,
        randomize: true,
        signal,
        shouldRetry: ({ error }) => isTransient(error),
        onFailedAttempt: ({ error, retriesLeft }) => {
          if (retriesLeft > 0 && isTransient(error)) this.onRetry?.();
        },
      });
    } catch (err) {
      // p-retry wraps AbortError's cause; give callers our typed error back.
      const original = (err as { originalError?: unknown }).originalError;
      throw original instanceof Error ? original : err;
    }
  }

  /**
   * Sends one package of Viber messages. Resolves with the parsed answer (a package-level error
   * is a value, not an exception: the worker decides what it means); rejects with a typed error
   * once transport failures outlast the retries.
   */
  send(messages: readonly ViberMessage[], opts: RequestOptions = {}): Promise<SendAnswer> {
    // Built once, before the first try: an unsafe character fails here, before any request.
    return this.#sendPackage(buildSendPackage(this.#apiKey, messages), messages, opts);
  }

  /**
   * Sends one package of SMS (`<message>`; never mixed with Viber messages in one package: the
   * docs show no package with both). Answered, retried and typed as `send`.
   */
  sendSms(messages: readonly SmsMessage[], opts: RequestOptions = {}): Promise<SendAnswer> {
    return this.#sendPackage(buildSmsPackage(this.#apiKey, messages), messages, opts);
  }

  /** POSTs a built send package, retried in transit; the answer read against the ids sent. */
  #sendPackage(
    xml: string,
    messages: ReadonlyArray<{ id: number }>,
    opts: RequestOptions,
  ): Promise<SendAnswer> {
    const ids = messages.map((m) => m.id);
    return this.#withRetries(
      () => this.#exchange('send', xml, opts.signal, (body) => parseSendAnswer(body, ids)),
      opts.signal,
    );
  }

  /** Asks `<status>` for messages by the user's ids. A package-level error is thrown. */
  status(ids: readonly number[], opts: RequestOptions = {}): Promise<StatusResult[]> {
    return this.#ask('status', buildStatusPackage(this.#apiKey, ids), opts, (a) => a.statuses);
  }

  /** Asks the account's balance. A package-level error is thrown. */
  balance(opts: RequestOptions = {}): Promise<Balance> {
    return this.#ask('balance', buildBalancePackage(this.#apiKey), opts, (a) => {
      if (!a.balance) throw new XmlMalformedError('gateway answer has no <balance>');
      return a.balance;
    });
  }

  /** A question (not a send): a package-level `<error>` in the answer is thrown, typed. */
  #ask<T>(
    kind: 'status' | 'balance',
    xml: string,
    opts: RequestOptions,
    pick: (answer: GatewayAnswer) => T,
  ): Promise<T> {
    return this.#withRetries(
      () =>
        this.#exchange(kind, xml, opts.signal, (body) => {
          const answer = parseAnswer(body);
          if (answer.error !== undefined) {
            throw new GatewayPackageError(answer.error, codeName('package', answer.error));
          }
          return pick(answer);
        }),
      opts.signal,
    );
  }

  /** Closes the connection pool. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#pool.close();
    return this.#closing;
  }

  /** Destroys open connections at once (forced shutdown). */
  async destroy(): Promise<void> {
    await this.#pool.destroy();
  }
}
