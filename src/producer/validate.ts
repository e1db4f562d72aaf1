/**
 * Validation of one message, pure. A row from a CSV file (all strings), an NDJSON object or a
 * library call goes through the same zod schema; every broken rule is reported with its field.
 * Empty strings count as absent, so a CSV column left blank falls back to the campaign default.
 */
import { z } from 'zod';
import type { FieldProblem } from '../errors.js';
import { MESSAGE_TYPES, type ViberMessage } from '../message.js';
import { FALLBACK_ID_BASE, MAX_MESSAGE_ID, SMS_MAX_SEGMENTS } from '../fallback.js';
import { findXmlUnsafe } from '../xml/escape.js';
import { normalizePhone, type CountryCode } from './phone.js';
import { fillTemplate, isTemplate } from './template.js';
import { smsSegments } from './segments.js';

/** Campaign-wide values a row may leave out (the CLI's --sender, --text, --image, --type). */
export type MessageDefaults = Partial<Omit<ViberMessage, 'id' | 'phone'>>;

/** The rules every message is checked against. */
export interface ValidationRules {
  /**
   * Longest text accepted, in characters. The gateway documents no maximum; Viber's own is 1,000.
   * @defaultValue 1000
   */
  maxTextLength: number;
  /**
   * The country of numbers written without a `+` and country code (`097 123 45 67`).
   * @defaultValue `UA`
   */
  country: CountryCode;
  /**
   * Most SMS segments a fallback text may take (segments.ts): a longer one is refused, row by row.
   * @defaultValue 6
   */
  smsMaxSegments?: number;
}

export const DEFAULT_RULES: ValidationRules = {
  maxTextLength: 1000,
  country: 'UA',
  smsMaxSegments: SMS_MAX_SEGMENTS,
};

export type Validation =
  | {
      ok: true;
      message: ViberMessage;
      /** The phone was written another way and is stored (and sent) in international form. */
      phoneRewritten: boolean;
    }
  | { ok: false; problems: FieldProblem[] };

const IMAGE_PATH = /\.(jpe?g|png|gif)$/i;

function httpUrl(value: string): URL | undefined {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u : undefined;
  } catch {
    return undefined;
  }
}

const blankToUndefined = (v: unknown): unknown => (v === '' || v === null ? undefined : v);

const xmlSafe = (s: string, ctx: z.RefinementCtx): void => {
  const problem = findXmlUnsafe(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
};

// Blank and null fields were dropped by validateMessage's merge, so no schema needs to map ''
// to undefined (z.preprocess on every field cost ~40% of validation time).
const text = (max: number, what: string) =>
  z
    .string({ error: (i) => (i.input === undefined ? 'is required' : 'must be a string') })
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters (${what})`)
    .superRefine(xmlSafe);

const idSchema = z.preprocess(
  (v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : blankToUndefined(v)),
  z
    .number({
      error: (i) => (i.input === undefined ? 'is required' : 'must be a positive integer'),
    })
    .int('must be a positive integer')
    .positive('must be a positive integer')
    .max(Number.MAX_SAFE_INTEGER, 'must be a safe integer (at most 2^53-1)')
    // From 10^15 up, ids are the SMS fallbacks' (src/fallback.ts): never a user's.
    .max(MAX_MESSAGE_ID, `must be below ${FALLBACK_ID_BASE} (the SMS fallbacks' ids start there)`),
);

function schema(limits: ValidationRules) {
  return z
    .object({
      id: idSchema,
      // Parsed and normalised by libphonenumber-js (phone.ts) once it is a string.
      phone: z.string({
        error: (i) => (i.input === undefined ? 'is required' : 'must be a string'),
      }),
      sender: text(11, 'the gateway limit'),
      type: z.enum(MESSAGE_TYPES, { error: `must be one of ${MESSAGE_TYPES.join(', ')}` }),
      text: text(limits.maxTextLength, 'maxTextLength'),
      image: z.string('must be a string').optional(),
      button: z.string('must be a string').optional(),
      url: z.string('must be a string').optional(),
      // The SMS the gateway gets has at most 1,000 characters (its ERR_LENGTH); segments below.
      sms_text: text(1000, 'the gateway limit').optional(),
      sms_sender: text(11, 'the gateway limit').optional(),
    })
    .superRefine((m, ctx) => {
      if (m.sms_text !== undefined) {
        const s = smsSegments(m.sms_text);
        const most = limits.smsMaxSegments ?? SMS_MAX_SEGMENTS;
        if (s.segments > most) {
          ctx.addIssue({
            code: 'custom',
            path: ['sms_text'],
            message: `takes ${s.segments} SMS segments (${s.encoding}); at most ${most} are allowed (smsMaxSegments)`,
          });
        }
      }
      if (m.type === 'image' || m.type === 'button') {
        if (m.image === undefined) {
          ctx.addIssue({ code: 'custom', path: ['image'], message: `is required for ${m.type}` });
        } else {
          const u = httpUrl(m.image);
          if (!u)
            ctx.addIssue({ code: 'custom', path: ['image'], message: 'must be an http(s) URL' });
          else if (!IMAGE_PATH.test(u.pathname)) {
            ctx.addIssue({
              code: 'custom',
              path: ['image'],
              message: 'path must end in .jpg, .jpeg, .png or .gif',
            });
          }
          const bad = findXmlUnsafe(m.image);
          if (bad) ctx.addIssue({ code: 'custom', path: ['image'], message: bad });
        }
      }
      if (m.type === 'button') {
        if (m.button === undefined) {
          ctx.addIssue({ code: 'custom', path: ['button'], message: 'is required for button' });
        } else {
          const len = [...m.button].length;
          if (len > 19) {
            ctx.addIssue({
              code: 'custom',
              path: ['button'],
              message: 'must be 1 to 19 characters',
            });
          }
          const bad = findXmlUnsafe(m.button);
          if (bad) ctx.addIssue({ code: 'custom', path: ['button'], message: bad });
        }
        if (m.url === undefined) {
          ctx.addIssue({ code: 'custom', path: ['url'], message: 'is required for button' });
        } else if (!httpUrl(m.url)) {
          ctx.addIssue({ code: 'custom', path: ['url'], message: 'must be an http(s) URL' });
        } else {
          const bad = findXmlUnsafe(m.url);
          if (bad) ctx.addIssue({ code: 'custom', path: ['url'], message: bad });
        }
      }
    });
}

const schemas = new Map<string, ReturnType<typeof schema>>();

function schemaFor(limits: ValidationRules): ReturnType<typeof schema> {
  const key = `${limits.maxTextLength}:${limits.smsMaxSegments ?? SMS_MAX_SEGMENTS}`;
  let s = schemas.get(key);
  if (!s) schemas.set(key, (s = schema(limits)));
  return s;
}

/**
 * Validates one message; fields the input leaves out (or blank) are taken from `defaults`.
 * Returns the normalised message (only the fields its type uses) or every problem found.
 */
export function validateMessage(
  input: unknown,
  defaults: MessageDefaults = {},
  rules: ValidationRules = DEFAULT_RULES,
): Validation {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, problems: [{ field: '(message)', rule: 'must be an object' }] };
  }
  const row = input as Record<string, unknown>;
  const d = defaults as Record<string, unknown>;
  const pick = (k: string): unknown => blankToUndefined(row[k]) ?? d[k];
  // One object literal of one shape for every row: zod's compiled parser stays on its fast path
  // (merging key by key made a dictionary-mode object and tripled validation time).
  const merged = {
    id: pick('id'),
    phone: pick('phone'),
    sender: pick('sender'),
    type: pick('type') ?? 'text',
    text: pick('text'),
    image: pick('image'),
    button: pick('button'),
    url: pick('url'),
    // A file's column (sms_text), or a library row's field (smsText); the campaign's default.
    sms_text: blankToUndefined(row['sms_text']) ?? blankToUndefined(row['smsText']) ?? d['smsText'],
    sms_sender:
      blankToUndefined(row['sms_sender']) ?? blankToUndefined(row['smsSender']) ?? d['smsSender'],
  };
  // Personalised: {{column}} filled from the row (template.ts); a problem names the column.
  if (isTemplate(merged.text) || isTemplate(merged.url) || isTemplate(merged.sms_text)) {
    const filled = fillPlaceholders(merged, row);
    if (filled) return { ok: false, problems: [filled] };
  }
  const parsed = schemaFor(rules).safeParse(merged);
  const phone =
    typeof merged.phone === 'string' ? normalizePhone(merged.phone, rules.country) : undefined;
  if (!parsed.success || (phone !== undefined && !phone.ok)) {
    const problems: FieldProblem[] = parsed.success
      ? []
      : parsed.error.issues.map((i) => ({
          field: i.path.map(String).join('.') || '(message)',
          rule: i.message,
        }));
    if (phone !== undefined && !phone.ok) {
      problems.splice(problems[0]?.field === 'id' ? 1 : 0, 0, { field: 'phone', rule: phone.rule });
    }
    return { ok: false, problems };
  }
  const m = parsed.data;
  const e164 = phone?.ok ? phone.phone : m.phone;
  const message: ViberMessage = {
    id: m.id,
    phone: e164,
    sender: m.sender,
    type: m.type,
    text: m.text,
  };
  if (m.type !== 'text' && m.image !== undefined) message.image = m.image;
  if (m.type === 'button') {
    if (m.button !== undefined) message.button = m.button;
    if (m.url !== undefined) message.url = m.url;
  }
  if (m.sms_text !== undefined) {
    message.smsText = m.sms_text;
    // Kept only where it differs: the Viber sender is the SMS's by default.
    if (m.sms_sender !== undefined && m.sms_sender !== m.sender) message.smsSender = m.sms_sender;
  }
  return { ok: true, message, phoneRewritten: e164 !== m.phone };
}

/**
 * Fills the text's and URL's placeholders in place from the row's own columns (a file's row) or
 * its `columns` (a library row); the first problem, if any.
 */
function fillPlaceholders(
  m: { text: unknown; url: unknown; sms_text: unknown },
  input: Readonly<Record<string, unknown>>,
): FieldProblem | undefined {
  const extra = input['columns'];
  const row =
    typeof extra === 'object' && extra !== null && !Array.isArray(extra)
      ? { ...input, ...(extra as Record<string, unknown>) }
      : input;
  if (isTemplate(m.text)) {
    const f = fillTemplate(m.text, row);
    if (!f.ok) return { field: 'text', rule: f.rule };
    m.text = f.text;
  }
  if (isTemplate(m.url)) {
    const f = fillTemplate(m.url, row, encodeURIComponent);
    if (!f.ok) return { field: 'url', rule: f.rule };
    m.url = f.text;
  }
  if (isTemplate(m.sms_text)) {
    const f = fillTemplate(m.sms_text, row);
    if (!f.ok) return { field: 'sms_text', rule: f.rule };
    m.sms_text = f.text;
  }
  return undefined;
}
