/**
 * Request packages. Built by template rather than with an XML builder library: the shape is fixed
 * and tiny, this runs once per batch on the hot path, and escaping is the only hard part — it lives
 * in escape.ts and is property-tested by round-tripping through the parser the sandbox uses.
 */
import type { SmsMessage, ViberMessage } from '../message.js';
import { assertXmlSafe, escapeAttr, escapeText } from './escape.js';

const PROLOG = '<?xml version="1.0" encoding="utf-8"?>';

function element(name: string, value: string, field: string): string {
  assertXmlSafe(field, value);
  return `<${name}>${escapeText(value)}</${name}>`;
}

/** One `<msg>` of a `<message-viber>` block. Throws XML_UNSAFE_TEXT before anything is built. */
export function buildViberMsg(m: ViberMessage): string {
  const at = `message ${m.id}`;
  let body =
    element('phone', m.phone, `${at} phone`) +
    element('sender', m.sender, `${at} sender`) +
    element('type', m.type, `${at} type`) +
    element('text', m.text, `${at} text`);
  if (m.type !== 'text' && m.image !== undefined) body += element('image', m.image, `${at} image`);
  if (m.type === 'button') {
    if (m.button !== undefined) body += element('button', m.button, `${at} button`);
    if (m.url !== undefined) body += element('url', m.url, `${at} url`);
  }
  // Escaped like every other attribute, whatever type reached the builder.
  return `<msg id="${escapeAttr(String(m.id))}">${body}</msg>`;
}

function packageOpen(apiKey: string): string {
  // The key is checked like any text but never named in the error: it is a secret.
  assertXmlSafe('API key', apiKey);
  return `${PROLOG}<package key="${escapeAttr(apiKey)}">`;
}

/** A send package for 1..N Viber messages: `<package key><message-viber><msg id>…`. */
export function buildSendPackage(apiKey: string, messages: readonly ViberMessage[]): string {
  if (messages.length === 0) throw new RangeError('a send package needs at least one message');
  let out = packageOpen(apiKey) + '<message-viber>';
  for (const m of messages) out += buildViberMsg(m);
  return out + '</message-viber></package>';
}

/**
 * A send package for 1..N SMS: `<package key><message><msg id recipient sender type>text</msg>…`
 * (the gateway's SMS block: attributes, the text as content; type 0 is a plain SMS).
 */
export function buildSmsPackage(apiKey: string, messages: readonly SmsMessage[]): string {
  if (messages.length === 0) throw new RangeError('a send package needs at least one message');
  let out = packageOpen(apiKey) + '<message>';
  for (const m of messages) {
    const at = `SMS ${m.id}`;
    assertXmlSafe(`${at} phone`, m.phone);
    assertXmlSafe(`${at} sender`, m.sender);
    assertXmlSafe(`${at} text`, m.text);
    out +=
      `<msg id="${escapeAttr(String(m.id))}" recipient="${escapeAttr(m.phone)}" ` +
      `sender="${escapeAttr(m.sender)}" type="0">${escapeText(m.text)}</msg>`;
  }
  return out + '</message></package>';
}

/** A `<balance>` request: the account's balance and currency. */
export function buildBalancePackage(apiKey: string): string {
  return packageOpen(apiKey) + '<balance></balance></package>';
}

/** A `<status>` request by the user's message ids. */
export function buildStatusPackage(apiKey: string, ids: readonly number[]): string {
  if (ids.length === 0) throw new RangeError('a status request needs at least one id');
  let out = packageOpen(apiKey) + '<status>';
  for (const id of ids) out += `<msg id="${escapeAttr(String(id))}"></msg>`;
  return out + '</status></package>';
}
