/**
 * The sandbox gateway: an HTTP server that speaks the AlphaSMS XML protocol (protocol.ts) well
 * enough to test against — it checks the key (package 202), validates each Viber (`<message-viber>`)
 * and SMS (`<message>`) message (per-message codes), assigns msg_ids from one id space, answers
 * 208 for an id it already has, answers `<status>`, can enforce a rate (package 212), can have
 * phones without Viber (`withoutViber`) — and can misbehave on request: see `Fault`.
 * Like the real gateway it answers HTTP 200 with `Content-Type: application/json` (sic).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  answer,
  checkMsg,
  checkSms,
  packageError,
  readRequest,
  type AnswerParts,
  type RequestMsg,
  type RequestSms,
} from './protocol.js';
import { fateOf, statusAt, type DeliverySimulation } from './delivery.js';
import type { Fault, FaultRate } from './faults.js';
import { readBody } from './http.js';

/** The documented rule of phones without Viber (`--phones-without-viber`): numbers ending in 0. */
export const phoneWithoutViber = (phone: string): boolean => phone.endsWith('0');

export type { Fault, FaultKind, FaultRate } from './faults.js';

export interface AcceptedMessage {
  id: number;
  msgId: number;
  at: number;
  /** `viber` (a `<message-viber>` msg) or `sms` (a `<message>` one). */
  kind: 'viber' | 'sms';
  /** With `keepMessages`: the fields as sent. */
  message: RequestMsg | undefined;
  sms: RequestSms | undefined;
  /** A Viber message to a phone without Viber (`withoutViber`): it ends 105 UNDELIVERABLE. */
  noViber: boolean;
}

export interface SandboxOptions {
  /** @defaultValue 0 (any free port) */
  port?: number;
  /** @defaultValue `127.0.0.1` */
  host?: string;
  /** The API key it accepts. @defaultValue `sandbox-key` */
  apiKey?: string;
  /** Delay before every answer, ms. @defaultValue 0 */
  latencyMs?: number;
  /** Messages per second it accepts before answering package error 212; 0 = no limit. @defaultValue 0 */
  rate?: number;
  /** Keep each accepted message's fields (tests); off for million-message benchmarks. @defaultValue true */
  keepMessages?: boolean;
  /** Faults drawn at random, each with its per-request probability (chaos runs). */
  faultRates?: FaultRate[];
  /** Forces a per-message code (tests): return undefined to let the normal checks decide. */
  codeFor?: (m: RequestMsg) => number | undefined;
  /**
   * What happens after acceptance (delivery.ts): final codes, delays, reads, under a seed. Without
   * it, `<status>` answers 102 DELIVERED at once for every accepted message.
   */
  delivery?: DeliverySimulation;
  /** The account's balance at start, answered to `<balance>`. @defaultValue 1000 */
  balance?: number;
  /** What each accepted message costs off the balance. @defaultValue 0 */
  price?: number;
  /** The balance's currency. @defaultValue `UAH` */
  currency?: string;
  /**
   * A message the gateway cannot read (tests): a package holding one is refused whole with package
   * error 201 ERR_FORMAT, as a gateway whose parser chokes on one message refuses them all.
   */
  unreadable?: (m: RequestMsg) => boolean;
  /**
   * Phones that have no Viber: a Viber message to one is accepted and then ends 105 UNDELIVERABLE
   * (an SMS to it is delivered as any). `phoneWithoutViber` is the documented rule the CLI's
   * `--phones-without-viber` turns on. @defaultValue every phone has Viber
   */
  withoutViber?: (phone: string) => boolean;
  /** First msg_id it assigns. @defaultValue 1000001 */
  firstMsgId?: number;
  /**
   * Answer 208 for an id it already accepted, as the real gateway does. Off (tests), it accepts the
   * id again with a new msg_id, so that a worker that sends a message twice is caught by
   * `stats.accepted` exceeding the messages sent instead of being hidden by the gateway.
   * @defaultValue true
   */
  dedupe?: boolean;
}

export interface SandboxStats {
  requests: number;
  sendPackages: number;
  statusRequests: number;
  /** Ids asked about in `<status>` requests, all requests together. */
  statusLookups: number;
  messages: number;
  /** Every acceptance it made: with `dedupe: false`, a second acceptance of an id counts again. */
  accepted: number;
  duplicates: number;
  rejected: number;
  faults: number;
  throttled: number;
}

const PATH = '/api/xml.php';

export class SandboxGateway {
  readonly options: Required<
    Omit<SandboxOptions, 'codeFor' | 'faultRates' | 'unreadable' | 'delivery' | 'withoutViber'>
  > &
    Pick<SandboxOptions, 'codeFor' | 'unreadable' | 'delivery' | 'withoutViber'>;
  /** The account's balance now (it falls by `price` a message). */
  balance: number;
  /** Faults drawn at random; may be changed while running. */
  faultRates: FaultRate[];
  /** The last per-message error code given to each id it refused (invariant checks). */
  readonly refused = new Map<number, number>();
  /** Every message it accepted, by the user's id: the gateway's own record, for invariants. */
  readonly accepted = new Map<number, AcceptedMessage>();
  /** Acceptance time of every accepted message, in order (rate checks). */
  readonly arrivals: number[] = [];
  /** Arrival time of every request, in order (with `keepMessages`: pause and throttle checks). */
  readonly requestTimes: number[] = [];
  readonly stats: SandboxStats = {
    requests: 0,
    sendPackages: 0,
    statusRequests: 0,
    statusLookups: 0,
    messages: 0,
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    faults: 0,
    throttled: 0,
  };
  private readonly next: Fault[] = [];
  private server: Server | undefined;
  /** Ends pending latency and slow-answer sleeps at close(). */
  private readonly closed = new AbortController();
  private nextMsgId: number;
  private windowStart = 0;

  constructor(opts: SandboxOptions = {}) {
    this.options = {
      port: opts.port ?? 0,
      host: opts.host ?? '127.0.0.1',
      apiKey: opts.apiKey ?? 'sandbox-key',
      latencyMs: opts.latencyMs ?? 0,
      rate: opts.rate ?? 0,
      keepMessages: opts.keepMessages ?? true,
      firstMsgId: opts.firstMsgId ?? 1_000_001,
      dedupe: opts.dedupe ?? true,
      codeFor: opts.codeFor,
      unreadable: opts.unreadable,
      delivery: opts.delivery,
      withoutViber: opts.withoutViber,
      balance: opts.balance ?? 1000,
      price: opts.price ?? 0,
      currency: opts.currency ?? 'UAH',
    };
    this.balance = this.options.balance;
    this.faultRates = [...(opts.faultRates ?? [])];
    this.nextMsgId = this.options.firstMsgId;
  }

  /** Queues faults for the next requests, one per request, in order. */
  inject(...faults: Fault[]): void {
    this.next.push(...faults);
  }

  /** Starts listening; resolves with the full endpoint URL. */
  async start(): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    this.server = server;
    return this.url;
  }

  get url(): string {
    const a = this.server?.address() as AddressInfo | null | undefined;
    if (!a) throw new Error('sandbox is not listening');
    return `http://${this.options.host}:${a.port}${PATH}`;
  }

  /** Stops listening and drops open connections. Idempotent. */
  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    this.closed.abort();
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private pickFault(): Fault | undefined {
    const queued = this.next.shift();
    if (queued) return queued;
    // One draw per request across the whole table, so the probabilities add up as written.
    let r = Math.random();
    for (const { fault, p } of this.faultRates) {
      if (r < p) return fault;
      r -= p;
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || req.url?.split('?')[0] !== PATH) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    let body: string;
    try {
      body = await readBody(req);
    } catch {
      res.writeHead(413).end();
      return;
    }
    this.stats.requests++;
    if (this.options.keepMessages) this.requestTimes.push(Date.now());
    const fault = this.pickFault();
    if (fault) this.stats.faults++;
    switch (fault?.kind) {
      case 'reset':
        req.socket.destroy();
        return;
      case 'http-error':
        res.writeHead(fault.status ?? 500, { 'content-type': 'text/html' }).end('<h1>error</h1>');
        return;
      case 'html':
        return this.reply(res, '<html><body><h1>502 Bad Gateway</h1></body></html>');
      case 'package-error':
        return this.reply(res, packageError(fault.code));
    }
    const xml = this.process(body, {
      forcedCode: fault?.kind === 'message-code' ? fault.code : undefined,
      omitLast: fault?.kind === 'omit-last',
    });
    switch (fault?.kind) {
      case 'lose-answer':
        req.socket.destroy();
        return;
      case 'truncate':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(xml.slice(0, Math.floor(xml.length / 2)));
        return;
      case 'slow-answer':
        if (!(await this.pause(fault.delayMs))) return;
        break;
    }
    await this.reply(res, xml);
  }

  /** Sleeps; false when the sandbox closed meanwhile. */
  private async pause(ms: number): Promise<boolean> {
    try {
      await sleep(ms, undefined, { signal: this.closed.signal });
      return true;
    } catch {
      return false;
    }
  }

  private async reply(res: ServerResponse, xml: string): Promise<void> {
    if (this.options.latencyMs > 0 && !(await this.pause(this.options.latencyMs))) return;
    if (res.destroyed) return;
    res.writeHead(200, { 'content-type': 'application/json' }).end(xml);
  }

  /** The gateway's work for one package; returns the answer. */
  process(body: string, how: { forcedCode?: number | undefined; omitLast?: boolean } = {}): string {
    const pkg = readRequest(body);
    if (!pkg) return packageError(201);
    if (pkg.key !== this.options.apiKey) return packageError(202);
    const unreadable = this.options.unreadable;
    if (unreadable && pkg.viber.some((m) => unreadable(m))) return packageError(201);
    const parts: AnswerParts = {};
    if (pkg.viber.length + pkg.sms.length > 0) {
      this.stats.sendPackages++;
      if (this.overRate(pkg.viber.length + pkg.sms.length)) {
        this.stats.throttled++;
        return packageError(212);
      }
      const phoneless = this.options.withoutViber;
      if (pkg.viber.length > 0) {
        parts.viber = pkg.viber.map((m) =>
          this.sendOne(m.id ?? '', how.forcedCode ?? this.options.codeFor?.(m) ?? checkMsg(m), {
            kind: 'viber',
            message: m,
            sms: undefined,
            noViber: m.phone !== undefined && phoneless !== undefined && phoneless(m.phone),
          }),
        );
        if (how.omitLast) parts.viber.pop();
      }
      if (pkg.sms.length > 0) {
        parts.sms = pkg.sms.map((m) =>
          this.sendOne(m.id ?? '', how.forcedCode ?? checkSms(m), {
            kind: 'sms',
            message: undefined,
            sms: m,
            noViber: false,
          }),
        );
        if (how.omitLast) parts.sms.pop();
      }
    }
    if (pkg.status.length > 0) {
      this.stats.statusRequests++;
      this.stats.statusLookups += pkg.status.length;
      parts.status = pkg.status.map((s) => {
        const hit = s.id !== undefined ? this.accepted.get(Number(s.id)) : this.byMsgId(s.smsId);
        if (!hit) return { id: s.id, smsId: 0, code: 201 };
        return { id: s.id, smsId: hit.msgId, ...this.statusOf(hit, Date.now()) };
      });
    }
    if (pkg.balance) {
      parts.balance = { amount: this.balance, currency: this.options.currency };
    }
    return answer(parts);
  }

  /** Where an accepted message stands now: its simulated fate (102 at once without one). */
  private statusOf(hit: AcceptedMessage, now: number): { code: number; dateCompleted?: string } {
    const sim = this.options.delivery;
    const fate = sim
      ? fateOf(hit.id, hit.at, sim)
      : { finalCode: 102, finalAt: hit.at, readAt: undefined };
    // Only a Viber message is read; one to a phone without Viber never arrives.
    if (hit.kind === 'sms') fate.readAt = undefined;
    if (hit.noViber) Object.assign(fate, { finalCode: 105, readAt: undefined });
    return statusAt(fate, hit.at, now);
  }

  private byMsgId(smsId: string | undefined): AcceptedMessage | undefined {
    for (const m of this.accepted.values()) if (String(m.msgId) === smsId) return m;
    return undefined;
  }

  /** One message of a send package, Viber or SMS: one id space, as on the gateway's account. */
  private sendOne(
    id: string,
    code: number,
    what: Pick<AcceptedMessage, 'kind' | 'message' | 'sms' | 'noViber'>,
  ) {
    this.stats.messages++;
    const known = /^\d+$/.test(id) ? this.accepted.get(Number(id)) : undefined;
    if (known && this.options.dedupe) {
      this.stats.duplicates++;
      return { id, msgId: 0, code: 208 };
    }
    if (code !== 1) {
      this.stats.rejected++;
      if (/^\d+$/.test(id)) this.refused.set(Number(id), code);
      return { id, msgId: 0, code };
    }
    const msgId = this.nextMsgId++;
    const at = Date.now();
    const keep = this.options.keepMessages;
    this.accepted.set(Number(id), {
      id: Number(id),
      msgId,
      at,
      kind: what.kind,
      message: keep ? what.message : undefined,
      sms: keep ? what.sms : undefined,
      noViber: what.noViber,
    });
    this.arrivals.push(at);
    this.stats.accepted++;
    this.balance -= this.options.price;
    return { id, msgId, code: 1 };
  }

  /** Sliding one-second window over accepted messages. */
  private overRate(n: number): boolean {
    const { rate } = this.options;
    if (rate <= 0) return false;
    const now = Date.now();
    while (
      this.windowStart < this.arrivals.length &&
      (this.arrivals[this.windowStart] ?? 0) <= now - 1000
    ) {
      this.windowStart++;
    }
    return this.arrivals.length - this.windowStart + n > rate;
  }
}
