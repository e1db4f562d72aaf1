/**
 * The gateway's status codes (../shared/spec/alphasms-xml-api.md) and the one function that decides
 * what an outcome means. Codes 200–202 mean different things per message and per package, so the
 * two tables are separate and callers must say which level a code came from.
 */

export interface CodeInfo {
  name: string;
  meaning: string;
}

/** A message delivered (final), and read (116: final too; its date_completed is the read time). */
export const DELIVERED = 102;
export const READ = 116;

/** Per-message codes: the text of each `<msg>` in send and status answers. */
export const MESSAGE_CODES: Readonly<Record<number, CodeInfo>> = {
  1: { name: 'OK', meaning: 'accepted by the gateway' },
  100: { name: 'SCHEDULED', meaning: 'scheduled, not yet sent' },
  101: { name: 'ENROUTE', meaning: 'in progress' },
  102: { name: 'DELIVERED', meaning: 'delivered (final)' },
  103: { name: 'EXPIRED', meaning: 'validity period expired (final)' },
  104: { name: 'DELETED', meaning: 'deleted (final)' },
  105: { name: 'UNDELIVERABLE', meaning: 'undeliverable (final)' },
  106: { name: 'ACCEPTED', meaning: 'accepted state' },
  107: { name: 'UNKNOWN', meaning: 'state unknown' },
  108: { name: 'REJECTED', meaning: 'rejected by a delivery interface (final)' },
  109: { name: 'DISCARDED', meaning: 'discarded (final)' },
  110: { name: 'SENDING', meaning: 'being transferred to the mobile network' },
  111: { name: 'NOT_SUPPORTED', meaning: "recipient's operator not supported, not billed (final)" },
  112: { name: 'WRONG_ALPHANAME', meaning: 'sender name not approved by the operator' },
  113: { name: 'WRONG_ALPHANAME_RETURNED', meaning: 'sender name not approved, money returned' },
  // Documented in the gateway's HTTP API table, not the XML one; Viber messages do reach it.
  116: { name: 'READ', meaning: 'read by the recipient (Viber only)' },
  200: { name: 'ERR_UNKNOWN', meaning: 'unknown error' },
  201: { name: 'ERR_ID', meaning: 'wrong message id' },
  202: { name: 'ERR_SENDER', meaning: 'incorrect sender' },
  203: { name: 'ERR_RECIPIENT', meaning: 'incorrect recipient number' },
  204: { name: 'ERR_LENGTH', meaning: 'text too long or empty' },
  206: { name: 'ERR_BILLING', meaning: 'billing error (e.g. no money)' },
  207: { name: 'ERR_OVERLIMIT', meaning: 'over the allocated message limit' },
  208: { name: 'ERR_DUPLICATE', meaning: 'a message with this id already exists' },
  211: { name: 'ERR_DELETE', meaning: 'deletion error' },
};

/** Package-level codes: `<package><error>CODE</error></package>`. */
export const PACKAGE_CODES: Readonly<Record<number, CodeInfo>> = {
  200: { name: 'ERR_UNKNOWN', meaning: 'unknown error' },
  201: { name: 'ERR_FORMAT', meaning: 'malformed document' },
  202: { name: 'ERR_AUTHORIZATION', meaning: 'bad API key' },
  205: { name: 'ERR_USER_DISABLE', meaning: 'account disabled' },
  209: { name: 'ERR_API_DISABLE', meaning: 'API disabled by the account owner' },
  210: { name: 'ERR_IP_DENIED', meaning: "caller's IP not allowed" },
  212: { name: 'ERR_THROTTLE', meaning: 'over the allowed sending rate' },
};

/**
 * What an outcome means for the queue:
 * - `accepted`: the gateway took the message (code 1).
 * - `duplicate`: 208, the gateway already has this id — success already recorded, recover its msg_id.
 * - `permanent`: this message will never be accepted as it is; it fails, no retries.
 * - `transient`: try again later, using an attempt.
 * - `throttled`: slow down; keep the messages without using attempts.
 * - `account`: the account cannot send (key, billing, limits); stop taking work, keep the messages.
 * - `malformed`: the gateway could not read our package.
 * - `unknown`: a code the docs do not list; treated as transient by the worker, so that a
 *   message the gateway did accept comes back as 208 rather than being failed or lost.
 */
export type OutcomeKind =
  | 'accepted'
  | 'duplicate'
  | 'permanent'
  | 'transient'
  | 'throttled'
  | 'account'
  | 'malformed'
  | 'unknown';

export type CodeLevel = 'message' | 'package';

const MESSAGE_KIND: Readonly<Record<number, OutcomeKind>> = {
  1: 'accepted',
  208: 'duplicate',
  200: 'transient',
  201: 'permanent',
  202: 'permanent',
  203: 'permanent',
  204: 'permanent',
  111: 'permanent',
  112: 'permanent',
  113: 'permanent',
  206: 'account',
  207: 'account',
};

const PACKAGE_KIND: Readonly<Record<number, OutcomeKind>> = {
  200: 'transient',
  201: 'malformed',
  202: 'account',
  205: 'account',
  209: 'account',
  210: 'account',
  212: 'throttled',
};

/** The single place that decides what a gateway code means. */
export function classify(level: CodeLevel, code: number): OutcomeKind {
  const table = level === 'message' ? MESSAGE_KIND : PACKAGE_KIND;
  return table[code] ?? 'unknown';
}

/** The code's documented name, or `CODE_<n>` for one the docs do not list. */
export function codeName(level: CodeLevel, code: number): string {
  const table = level === 'message' ? MESSAGE_CODES : PACKAGE_CODES;
  return table[code]?.name ?? `CODE_${code}`;
}
