/** What the report of a rejected row keeps of it: enough to find the row, never the whole value. */

/** The most characters of a rejected row's id that its report keeps. */
export const REPORTED_ID_CHARS = 100;

/**
 * What a rejected row's report keeps of its id: a number as it is, a string cut to
 * REPORTED_ID_CHARS characters (a fresh copy: a slice would keep the whole value alive, and an
 * 800-row file of 900 KB ids held 974 MB), anything else named by its type — never the value
 * itself, which may be a huge or hostile object (one whose toString throws crashed the report).
 */
export function reportedId(value: unknown): number | string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const id = (value as { id?: unknown }).id;
  switch (typeof id) {
    case 'undefined':
      return undefined;
    case 'number':
      return id;
    case 'string':
      return clip(id);
    case 'boolean':
    case 'bigint':
      return String(id);
    default:
      return id === null ? undefined : Array.isArray(id) ? '(an array)' : `(${typeof id})`;
  }
}

/** A string cut to REPORTED_ID_CHARS characters (code points: no emoji is cut in half). */
function clip(s: string): string {
  if (s.length <= REPORTED_ID_CHARS) return s;
  let points = 0;
  let cut = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    points++;
    if (points === REPORTED_ID_CHARS) cut = i + 1;
  }
  if (points <= REPORTED_ID_CHARS) return s;
  // [...] and join() build a new, flat string: a slice would keep the whole value alive.
  return `${[...s.slice(0, cut)].join('')}… (${points} characters)`;
}
