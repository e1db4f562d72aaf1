/**
 * SMS segments of a fallback text, as Twilio's `sms-segments-calculator` counts them: GSM-7 (160
 * characters in one segment, 153 a segment past that, escaped characters counting twice, none
 * split across segments) unless a character needs UCS-2 (70, then 67 a segment; a grapheme is
 * never split). Segments are what the gateway bills.
 *
 * The library builds an object per grapheme (~200–350 µs a text): a file whose every row has its
 * own fallback text would enqueue at a fifth of its speed (BENCHMARKS.md 12b). Texts made only of
 * characters that are one grapheme each and one segment unit each — GSM-7's basic table, or
 * those with the Cyrillic, Latin-1 and Latin Extended letters and common punctuation of UCS-2 —
 * are counted here with the same arithmetic; any other text (escaped GSM characters, emoji,
 * combining marks, CR) goes to the library. test/segments.test.ts checks both agree.
 */
import { SegmentedMessage } from 'sms-segments-calculator';

export interface SmsSegments {
  segments: number;
  encoding: 'GSM-7' | 'UCS-2';
}

/** GSM 03.38's basic table but CR (which joins LF into one grapheme, and so into UCS-2). */
const GSM_BASIC =
  /^[@£$¥èéùìòÇ\nØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&'()*+,\-./0-9:;<=>?¡A-ZÄÖÑÜ§¿a-zäöñüà]*$/;
/**
 * One UTF-16 unit, one grapheme each: GSM's basic table and Latin-1 (U+0020–U+00FF but controls),
 * Latin Extended-A/B, Cyrillic, general punctuation (dashes, quotes, ellipsis; no joiners or
 * invisible formatting), currency signs, letterlike symbols and the rest of GSM-7's basic table.
 */
const SIMPLE_UCS2 =
  /^[\n\u0020-\u007e\u00a0-\u024f\u0391-\u03a9\u0400-\u04ff\u2010-\u2027\u2030-\u205e\u20a0-\u20bf\u2100-\u214f]*$/;

/** Any character GSM-7 cannot carry, basic table and escapes both: the text is UCS-2. */
const NOT_GSM =
  /[^@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&'()*+,\-./0-9:;<=>?¡A-ZÄÖÑÜ§¿a-zäöñüà\f^{}\\[~\]|€]/;

const counted = new Map<string, SmsSegments>();
const CACHE_LIMIT = 1000;

export function smsSegments(text: string): SmsSegments {
  let s = counted.get(text);
  if (s) return s;
  s = simple(text) ?? byLibrary(text);
  // Personalised texts differ row by row: only the most recent ones are kept.
  if (counted.size >= CACHE_LIMIT) counted.clear();
  counted.set(text, s);
  return s;
}

function simple(text: string): SmsSegments | undefined {
  const n = text.length;
  if (GSM_BASIC.test(text)) {
    return { segments: n <= 160 ? 1 : Math.ceil(n / 153), encoding: 'GSM-7' };
  }
  if (NOT_GSM.test(text) && SIMPLE_UCS2.test(text)) {
    return { segments: n <= 70 ? 1 : Math.ceil(n / 67), encoding: 'UCS-2' };
  }
  return undefined;
}

function byLibrary(text: string): SmsSegments {
  const m = new SegmentedMessage(text, 'auto');
  return { segments: m.segmentsCount, encoding: m.encodingName === 'GSM-7' ? 'GSM-7' : 'UCS-2' };
}

/** The library's count alone (the oracle of the fast path's test). */
export const librarySegments = byLibrary;
