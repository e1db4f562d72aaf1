import { XmlUnsafeTextError } from '../errors.js';

/**
 * Characters XML 1.0 cannot carry at all, even escaped: C0 controls other than tab, LF and CR,
 * lone surrogates, U+FFFE and U+FFFF. With the `u` flag a lone surrogate is its own code point.
 */
const UNSAFE = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** Throws XML_UNSAFE_TEXT naming the field and position of the first character XML cannot carry. */
export function assertXmlSafe(field: string, value: string): void {
  const match = UNSAFE.exec(value);
  if (match) throw new XmlUnsafeTextError(field, match.index, match[0].codePointAt(0) ?? 0);
}

/** The first unsafe character's description, or undefined: for validation that collects problems. */
export function findXmlUnsafe(value: string): string | undefined {
  const match = UNSAFE.exec(value);
  if (!match) return undefined;
  const hex = (match[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
  return `character U+${hex} at position ${match.index} cannot be carried by XML 1.0`;
}

const TEXT_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  // A raw CR would be normalised to LF by the gateway's parser; a reference survives.
  '\r': '&#13;',
};

const ATTR_ESCAPES: Readonly<Record<string, string>> = {
  ...TEXT_ESCAPES,
  '"': '&quot;',
  "'": '&apos;',
  // Attribute values normalise tabs and newlines to spaces; references survive.
  '\n': '&#10;',
  '\t': '&#9;',
};

/** Escapes element content. The caller has checked the text with assertXmlSafe. */
export function escapeText(value: string): string {
  return value.replace(/[&<>\r]/g, (c) => TEXT_ESCAPES[c] ?? c);
}

/** Escapes a double-quoted attribute value. */
export function escapeAttr(value: string): string {
  return value.replace(/[&<>\r"'\n\t]/g, (c) => ATTR_ESCAPES[c] ?? c);
}
