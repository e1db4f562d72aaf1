/**
 * SMS segments of a fallback text, by Twilio's `sms-segments-calculator`: GSM-7 (160 characters in
 * one segment, 153 a segment past that, escaped characters counting twice) unless a character
 * needs UCS-2 (70, then 67; an emoji is two UTF-16 units). Segments are what the gateway bills.
 */
import { SegmentedMessage } from 'sms-segments-calculator';

export interface SmsSegments {
  segments: number;
  encoding: 'GSM-7' | 'UCS-2';
}

/** Texts counted, by text: a campaign-wide text is counted once, not once a row. */
const counted = new Map<string, SmsSegments>();
const CACHE_LIMIT = 1000;

export function smsSegments(text: string): SmsSegments {
  let s = counted.get(text);
  if (s) return s;
  const m = new SegmentedMessage(text, 'auto');
  s = { segments: m.segmentsCount, encoding: m.encodingName === 'GSM-7' ? 'GSM-7' : 'UCS-2' };
  // Personalised texts differ row by row: only the most recent ones are kept.
  if (counted.size >= CACHE_LIMIT) counted.clear();
  counted.set(text, s);
  return s;
}
