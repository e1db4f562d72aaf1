/**
 * The sandbox gateway's protocol core, pure: reads a request package the way the real gateway
 * documents it, decides per-message codes, and writes answers. The HTTP server (server.ts) adds
 * transport, timing and fault injection around it.
 */
import { escapeAttr, escapeText } from '../xml/escape.js';
import { attr, child, elementsAt, readXml, text, type XmlElement } from '../xml/read.js';

/** One `<msg>` of a request, as read (strings, unvalidated). */
export interface RequestMsg {
  id: string | undefined;
  phone: string | undefined;
  sender: string | undefined;
  type: string | undefined;
  text: string | undefined;
  image: string | undefined;
  button: string | undefined;
  url: string | undefined;
}

/** One `<msg>` of an SMS `<message>` block: attributes, the text as content. */
export interface RequestSms {
  id: string | undefined;
  recipient: string | undefined;
  sender: string | undefined;
  type: string | undefined;
  text: string;
}

export interface RequestPackage {
  key: string | undefined;
  viber: RequestMsg[];
  sms: RequestSms[];
  /** `<status>` requests: by user id or by gateway id. */
  status: Array<{ id: string | undefined; smsId: string | undefined }>;
  /** A `<balance>` request is in the package. */
  balance: boolean;
}

/** A field's text exactly as sent (no trimming; references decoded), if the element is there. */
const field = (msg: XmlElement, name: string): string | undefined => {
  const el = child(msg, name);
  return el === undefined ? undefined : text(el);
};

/** Parses a request body; `undefined` means the gateway would answer package error 201. */
export function readRequest(body: string): RequestPackage | undefined {
  let doc: { name: string; root: XmlElement };
  try {
    doc = readXml(body.replace(/^\uFEFF/, ''));
  } catch {
    return undefined;
  }
  if (doc.name !== 'package') return undefined;
  const pkg = doc.root;
  return {
    key: attr(pkg, 'key'),
    viber: elementsAt(pkg, 'message-viber', 'msg').map((m) => ({
      id: attr(m, 'id'),
      phone: field(m, 'phone'),
      sender: field(m, 'sender'),
      type: field(m, 'type'),
      text: field(m, 'text'),
      image: field(m, 'image'),
      button: field(m, 'button'),
      url: field(m, 'url'),
    })),
    sms: elementsAt(pkg, 'message', 'msg').map((m) => ({
      id: attr(m, 'id'),
      recipient: attr(m, 'recipient'),
      sender: attr(m, 'sender'),
      type: attr(m, 'type'),
      text: text(m),
    })),
    status: elementsAt(pkg, 'status', 'msg').map((m) => ({
      id: attr(m, 'id'),
      smsId: attr(m, 'sms_id'),
    })),
    balance: child(pkg, 'balance') !== undefined,
  };
}

const isHttpUrl = (s: string): boolean => {
  try {
    return ['http:', 'https:'].includes(new URL(s).protocol);
  } catch {
    return false;
  }
};

/**
 * The per-message code the sandbox gives a message it has not seen before: 1 when acceptable,
 * else the documented error code for the first rule it breaks.
 */
export function checkMsg(m: RequestMsg): number {
  if (m.id === undefined || !/^[1-9]\d{0,15}$/.test(m.id)) return 201;
  if (!m.sender || [...m.sender].length > 11) return 202;
  // Stricter than our producer on purpose: E.164 is 8 to 15 digits.
  if (!m.phone || !/^\+?\d{8,15}$/.test(m.phone)) return 203;
  if (!m.text || [...m.text].length > 1000) return 204;
  if (m.type !== 'text' && m.type !== 'image' && m.type !== 'button') return 200;
  if (m.type !== 'text') {
    if (!m.image || !isHttpUrl(m.image) || !/\.(jpe?g|png|gif)$/i.test(new URL(m.image).pathname)) {
      return 200;
    }
  }
  if (m.type === 'button') {
    if (!m.button || [...m.button].length > 19 || !m.url || !isHttpUrl(m.url)) return 200;
  }
  return 1;
}

/** As checkMsg, for an SMS: id, sender, recipient, a text of 1..1,000 characters. */
export function checkSms(m: RequestSms): number {
  if (m.id === undefined || !/^[1-9]\d{0,15}$/.test(m.id)) return 201;
  if (!m.sender || [...m.sender].length > 11) return 202;
  if (!m.recipient || !/^\+?\d{8,15}$/.test(m.recipient)) return 203;
  if (!m.text || [...m.text].length > 1000) return 204;
  return 1;
}

const PROLOG = '<?xml version="1.0" encoding="utf-8" ?>\n';

export function packageError(code: number): string {
  return `${PROLOG}<package><error>${code}</error></package>`;
}

export interface AnswerParts {
  viber?: Array<{ id: string; msgId: number; code: number }>;
  sms?: Array<{ id: string; msgId: number; code: number }>;
  status?: Array<{ id?: string; smsId: number; code: number; dateCompleted?: string }>;
  balance?: { amount: number; currency: string };
}

/** An answer in the documented shape (`message-viber` as in the examples). */
export function answer(parts: AnswerParts): string {
  let out = `${PROLOG}<package>`;
  if (parts.viber) {
    out += '<message-viber>';
    for (const r of parts.viber) {
      out += `<msg id="${escapeAttr(r.id)}" msg_id="${r.msgId}">${r.code}</msg>`;
    }
    out += '</message-viber>';
  }
  if (parts.sms) {
    // The SMS answer names the gateway's id sms_id, as its <status> does (the docs use both).
    out += '<message>';
    for (const r of parts.sms) {
      out += `<msg id="${escapeAttr(r.id)}" sms_id="${r.msgId}">${r.code}</msg>`;
    }
    out += '</message>';
  }
  if (parts.status) {
    out += '<status>';
    for (const s of parts.status) {
      const id = s.id === undefined ? '' : ` id="${escapeAttr(s.id)}"`;
      const done = s.dateCompleted ? ` date_completed="${escapeAttr(s.dateCompleted)}"` : '';
      out += `<msg${id} sms_id="${s.smsId}" sms_count="1"${done}>${escapeText(String(s.code))}</msg>`;
    }
    out += '</status>';
  }
  if (parts.balance) {
    const { amount, currency } = parts.balance;
    out += `<balance><amount>${amount.toFixed(3)}</amount><currency>${escapeText(currency)}</currency></balance>`;
  }
  return out + '</package>';
}
