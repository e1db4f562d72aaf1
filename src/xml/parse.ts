/**
 * Answers from the gateway, read with fast-xml-parser (xml/read.ts). Tolerant where the docs contradict
 * themselves (`message` vs `message-viber`, one vs many `<msg>`, whitespace, a BOM, any
 * Content-Type); strict everywhere else: whatever is not a `<package>` answer of the documented
 * shape becomes XML_MALFORMED. Nothing here throws anything but our typed errors.
 */
import { XmlMalformedError } from '../errors.js';
import { attr, child, elementsAt, readXml, text as textOf, type XmlElement } from './read.js';

/** One `<msg>` of a send answer: `<msg id="1234" msg_id="1234568">1</msg>`. */
export interface MsgResult {
  id: number;
  /** The gateway's id; 0 when it refused the message. */
  msgId: number;
  code: number;
}

/** One `<msg>` of a `<status>` answer. The gateway calls its id `sms_id` here. */
export interface StatusResult {
  id: number | undefined;
  smsId: number;
  code: number;
  smsCount: number | undefined;
  dateCompleted: string | undefined;
}

/** A `<balance>` answer: `<balance><amount>10.526</amount><currency>UAH</currency></balance>`. */
export interface Balance {
  amount: number;
  currency: string;
}

/** Everything a package answer can hold; `error` is the package-level code, checked first. */
export interface GatewayAnswer {
  error: number | undefined;
  messages: MsgResult[];
  statuses: StatusResult[];
  balance: Balance | undefined;
}

/**
 * A short, printable excerpt of a bad answer, for error messages: 80 characters at most, any
 * `key="…"` attribute (an answer that echoes our request) blanked. The gateway client also cuts
 * the key itself out of every error message (redactKey).
 */
function excerpt(text: string): string {
  const flat = text
    .replace(/\bkey\s*=\s*(["'])[^"']*\1?/gi, 'key="[redacted]"')
    .replace(/\s+/g, ' ')
    .trim();
  return JSON.stringify(flat.length > 80 ? flat.slice(0, 80) + '…' : flat);
}

function integer(value: string | undefined, what: string): number {
  const s = value === undefined ? '' : value.trim();
  if (!/^-?\d{1,16}$/.test(s)) {
    throw new XmlMalformedError(`${what} is not an integer: ${excerpt(value ?? '')}`);
  }
  return Number(s);
}

function optionalInteger(value: string | undefined, what: string): number | undefined {
  return value === undefined ? undefined : integer(value, what);
}

function parseMsgs(pkg: XmlElement, block: string): MsgResult[] {
  // An empty block, `<message-viber/>`, has no <msg>s.
  return elementsAt(pkg, block, 'msg').map((m) => ({
    id: integer(attr(m, 'id'), '<msg> id'),
    // msg_id in the Viber examples; an SMS answer may call it sms_id, as <status> does.
    msgId: optionalInteger(attr(m, 'msg_id') ?? attr(m, 'sms_id'), '<msg> msg_id') ?? 0,
    code: integer(textOf(m), '<msg> status code'),
  }));
}

function parseStatuses(pkg: XmlElement): StatusResult[] {
  return elementsAt(pkg, 'status', 'msg').map((m) => ({
    id: optionalInteger(attr(m, 'id'), '<status><msg> id'),
    // The docs say sms_id here and msg_id in send answers; accept either.
    smsId: optionalInteger(attr(m, 'sms_id') ?? attr(m, 'msg_id'), '<status><msg> sms_id') ?? 0,
    code: integer(textOf(m), '<status><msg> status code'),
    smsCount: optionalInteger(attr(m, 'sms_count'), '<status><msg> sms_count'),
    dateCompleted: attr(m, 'date_completed'),
  }));
}

/** Parses any package answer. Throws XML_MALFORMED for anything that is not one. */
export function parseAnswer(body: string | Uint8Array): GatewayAnswer {
  // A BOM or blank lines before the declaration are not well-formed XML, but harmless: tolerate.
  const text = (typeof body === 'string' ? body : Buffer.from(body).toString('utf8'))
    .replace(/^\uFEFF/, '')
    .trimStart();
  if (text.trim() === '') throw new XmlMalformedError('gateway answer is empty');
  let doc: { name: string; root: XmlElement };
  try {
    doc = readXml(text);
  } catch (err) {
    throw new XmlMalformedError(
      `gateway answer is not well-formed XML (${(err as Error).message}): ${excerpt(text)}`,
      { cause: err },
    );
  }
  if (doc.name !== 'package') {
    throw new XmlMalformedError(`gateway answer has no <package> root: ${excerpt(text)}`);
  }
  const pkg = doc.root;
  const error = child(pkg, 'error');
  return {
    error: error === undefined ? undefined : integer(textOf(error), '<error> code'),
    messages: [...parseMsgs(pkg, 'message-viber'), ...parseMsgs(pkg, 'message')],
    statuses: parseStatuses(pkg),
    balance: parseBalance(pkg),
  };
}

function parseBalance(pkg: XmlElement): Balance | undefined {
  const b = child(pkg, 'balance');
  if (b === undefined) return undefined;
  const amountEl = child(b, 'amount');
  const amountText = amountEl === undefined ? '' : textOf(amountEl).trim();
  if (!/^-?\d+(\.\d+)?$/.test(amountText)) {
    throw new XmlMalformedError(`<balance> amount is not a number: ${excerpt(amountText)}`);
  }
  const currencyEl = child(b, 'currency');
  return {
    amount: Number(amountText),
    currency: currencyEl === undefined ? '' : textOf(currencyEl).trim(),
  };
}

export type SendAnswer =
  | { kind: 'package-error'; code: number }
  | { kind: 'results'; results: Map<number, MsgResult>; missing: number[] };

/**
 * A send answer matched against the ids we sent. A package-level `<error>` wins over anything
 * else (codes 200–202 mean other things per message). Ids we did not send are ignored.
 */
export function parseSendAnswer(body: string | Uint8Array, sentIds: readonly number[]): SendAnswer {
  const answer = parseAnswer(body);
  if (answer.error !== undefined) return { kind: 'package-error', code: answer.error };
  const byId = new Map<number, MsgResult>();
  for (const m of answer.messages) if (!byId.has(m.id)) byId.set(m.id, m);
  const results = new Map<number, MsgResult>();
  const missing: number[] = [];
  for (const id of sentIds) {
    const r = byId.get(id);
    if (r) results.set(id, r);
    else missing.push(id);
  }
  return { kind: 'results', results, missing };
}

/** `date_completed` (`2024-11-11T12:00:00`, no zone) as ms, read as UTC; undefined if unreadable. */
export function parseGatewayDate(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?/.exec(s.trim());
  if (!m) return undefined;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +(m[6] ?? 0));
  return Number.isNaN(ms) ? undefined : ms;
}
