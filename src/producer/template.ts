/**
 * Personalised texts, pure: a text (or a button URL) may name columns of its row as `{{column}}`,
 * filled from the row's own value at enqueue (`Привіт, {{name}}!`). What is stored and sent is
 * the filled text, checked like any text (length, XML); the columns that only fed it are not
 * stored. A value goes into a URL percent-encoded, into a text as it is (the XML builder escapes
 * it like any text, so a name holding `<` or `&` arrives intact).
 *
 * A column is 1–64 of letters, digits, `_`, `.` and `-`; spaces inside the braces are allowed
 * (`{{ name }}`). A `{{` with no `}}` after it is a broken template: for a campaign-wide text the
 * whole enqueue is refused before anything is written, for a row's own text that row is.
 */

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]{1,64})\s*\}\}/g;

/** Whether the text names any column (or tries to: a stray `{{` counts). */
export const isTemplate = (s: unknown): s is string => typeof s === 'string' && s.includes('{{');

/** What is wrong with a template, or undefined when every `{{` opens a placeholder. */
export function templateProblem(s: string): string | undefined {
  const rest = s.replace(PLACEHOLDER, '');
  const at = rest.indexOf('{{');
  if (at === -1) return undefined;
  const piece = rest.slice(at, at + 30);
  return rest.indexOf('}}', at) === -1
    ? `placeholder ${JSON.stringify(piece)} has no closing }}`
    : `placeholder ${JSON.stringify(piece)} must name a column: {{name}} (letters, digits, _ . -)`;
}

/** The columns a template names, in order of first use. */
export function placeholderColumns(s: string | undefined): string[] {
  if (s === undefined) return [];
  return [...new Set([...s.matchAll(PLACEHOLDER)].map((m) => m[1] as string))];
}

export type Filled = { ok: true; text: string } | { ok: false; rule: string };

/**
 * The template with each `{{column}}` replaced by the row's value of that column (encoded by
 * `encode`); a missing, blank or non-scalar value is a problem naming the column.
 */
export function fillTemplate(
  template: string,
  row: Readonly<Record<string, unknown>>,
  encode: (v: string) => string = (v) => v,
): Filled {
  const problem = templateProblem(template);
  if (problem) return { ok: false, rule: problem };
  let missing: string | undefined;
  const text = template.replace(PLACEHOLDER, (_m, column: string) => {
    // A CSV header is read lower-cased: {{Name}} finds its column `name` too.
    const own = (k: string) => (Object.prototype.hasOwnProperty.call(row, k) ? row[k] : undefined);
    const v = own(column) ?? own(column.toLowerCase());
    if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean')
      return encode(String(v));
    if (typeof v === 'string' && v.trim() !== '') return encode(v);
    missing ??= column;
    return '';
  });
  if (missing !== undefined) {
    return {
      ok: false,
      rule: `needs column ${JSON.stringify(missing)} for {{${missing}}}, which this row leaves empty or lacks`,
    };
  }
  return { ok: true, text };
}
