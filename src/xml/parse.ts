/**
 * Answers from the gateway, parsed with fast-xml-parser. Tolerant where the docs contradict
 * themselves (`message` vs `message-viber`, one vs many `<msg>`, whitespace, a BOM, any
 * Content-Type); strict everywhere else: whatever is not a `<package>` answer of the documented
 * shape becomes XML_MALFORMED. Nothing here throws anything but our typed errors.
 */
import { XMLParser } from 'fast-xml-parser';
import { XmlMalformedError } from '../errors.js';

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

/** Everything a package answer can hold; `error` is the package-level code, checked first. */
export interface GatewayAnswer {
  error: number | undefined;
  messages: MsgResult[];
  statuses: StatusResult[];
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  htmlEntities: true,
  isArray: (name) => name === 'msg' || name === 'message' || name === 'message-viber',
  // Callbacks get the tag name only: no path string is built for every element (~15% of a parse).
  jPath: false,
});

type Node = Record<string, unknown>;

function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A short, printable excerpt of a bad answer, for error messages (it never holds our key). */
function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return JSON.stringify(flat.length > 80 ? flat.slice(0, 80) + '…' : flat);
}

function integer(value: unknown, what: string): number {
  const s = typeof value === 'string' ? value.trim() : '';
  if (!/^-?\d{1,16}$/.test(s)) {
    throw new XmlMalformedError(`${what} is not an integer: ${excerpt(String(value ?? ''))}`);
  }
  return Number(s);
}

function optionalInteger(value: unknown, what: string): number | undefined {
  return value === undefined ? undefined : integer(value, what);
}

/** The text of an element that may also carry attributes. */
function textOf(node: unknown): unknown {
  if (isNode(node)) return node['#text'];
  return node;
}

function asList(value: unknown): unknown[] {
  if (value === undefined || value === '') return [];
  return Array.isArray(value) ? value : [value];
}

function parseMsgs(block: unknown): MsgResult[] {
  const out: MsgResult[] = [];
  for (const b of asList(block)) {
    if (!isNode(b)) continue; // an empty block: `<message-viber/>`
    for (const m of asList(b['msg'])) {
      const attrs = isNode(m) ? m : {};
      out.push({
        id: integer(attrs['@id'], '<msg> id'),
        msgId: optionalInteger(attrs['@msg_id'], '<msg> msg_id') ?? 0,
        code: integer(textOf(m), '<msg> status code'),
      });
    }
  }
  return out;
}

function parseStatuses(block: unknown): StatusResult[] {
  const out: StatusResult[] = [];
  for (const b of asList(block)) {
    if (!isNode(b)) continue;
    for (const m of asList(b['msg'])) {
      const attrs = isNode(m) ? m : {};
      const dateCompleted = attrs['@date_completed'];
      out.push({
        id: optionalInteger(attrs['@id'], '<status><msg> id'),
        // The docs say sms_id here and msg_id in send answers; accept either.
        smsId: optionalInteger(attrs['@sms_id'] ?? attrs['@msg_id'], '<status><msg> sms_id') ?? 0,
        code: integer(textOf(m), '<status><msg> status code'),
        smsCount: optionalInteger(attrs['@sms_count'], '<status><msg> sms_count'),
        dateCompleted: typeof dateCompleted === 'string' ? dateCompleted : undefined,
      });
    }
  }
  return out;
}

/** Parses any package answer. Throws XML_MALFORMED for anything that is not one. */
export function parseAnswer(body: string | Uint8Array): GatewayAnswer {
  // A BOM or blank lines before the declaration are not well-formed XML, but harmless: tolerate.
  const text = (typeof body === 'string' ? body : Buffer.from(body).toString('utf8'))
    .replace(/^\uFEFF/, '')
    .trimStart();
  if (text.trim() === '') throw new XmlMalformedError('gateway answer is empty');
  let doc: unknown;
  try {
    doc = parser.parse(text, true);
  } catch (err) {
    throw new XmlMalformedError(`gateway answer is not well-formed XML: ${excerpt(text)}`, {
      cause: err,
    });
  }
  if (!isNode(doc) || !('package' in doc)) {
    throw new XmlMalformedError(`gateway answer has no <package> root: ${excerpt(text)}`);
  }
  const pkg = isNode(doc['package']) ? doc['package'] : {};
  const error = pkg['error'];
  const status = pkg['status'];
  return {
    error: error === undefined ? undefined : integer(textOf(error), '<error> code'),
    messages: [...parseMsgs(pkg['message-viber']), ...parseMsgs(pkg['message'])],
    statuses: parseStatuses(isNode(status) || Array.isArray(status) ? status : undefined),
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
