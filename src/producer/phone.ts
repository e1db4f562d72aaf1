/**
 * Phone numbers, pure: what people's spreadsheets hold (`+38 (097) 123-45-67`, `097-123-45-67`,
 * `380971234567`) becomes the international form the gateway documents (`+380971234567`), and what
 * cannot be a mobile number is refused with the reason — before enqueue, instead of a 203 from the
 * gateway after it. libphonenumber-js (Google's libphonenumber metadata, kept current by its
 * maintainers) does the parsing; its `mobile` metadata makes `isValid()` true for mobile numbers
 * only, which is what Viber reaches.
 */
import {
  isSupportedCountry,
  parsePhoneNumberFromString,
  validatePhoneNumberLength,
  type CountryCode,
} from 'libphonenumber-js/mobile';

export type { CountryCode };

export type PhoneCheck = { ok: true; phone: string } | { ok: false; rule: string };

const REASONS: Readonly<Record<string, string>> = {
  NOT_A_NUMBER: 'is not a phone number',
  INVALID_COUNTRY: 'has no country code we can tell',
  TOO_SHORT: 'is too short for a mobile number',
  TOO_LONG: 'is too long for a mobile number',
  INVALID_LENGTH: 'has a length no mobile number of its country has',
};

/** True for a country libphonenumber knows (ISO 3166-1 alpha-2, upper case: `UA`, `PL`). */
export function isCountry(code: string): code is CountryCode {
  return isSupportedCountry(code);
}

/**
 * The number in international form (E.164), or why it cannot be a mobile number. A number without
 * a `+` is read as a national number of `country` (or an international one without its `+`).
 */
export function normalizePhone(value: string, country: CountryCode): PhoneCheck {
  const parsed = parsePhoneNumberFromString(value, country);
  if (parsed?.isValid()) return { ok: true, phone: parsed.number };
  const reason = validatePhoneNumberLength(value, country);
  if (reason !== undefined)
    return { ok: false, rule: REASONS[reason] ?? `is not valid (${reason})` };
  const where = parsed ? ` (+${parsed.countryCallingCode})` : '';
  return { ok: false, rule: `is not a mobile number of its country${where}` };
}
