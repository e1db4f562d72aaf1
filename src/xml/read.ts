/**
 * Reading XML: both sides of the protocol read packages through this module — gateway answers
 * (xml/parse.ts) and, in the sandbox, requests (sandbox/protocol.ts) — with fast-xml-parser,
 * configured to behave like a conformant, non-validating XML parser:
 *
 * - `XMLValidator` first: whatever is not well-formed is refused with the line and column it
 *   gives (mismatched or unclosed tags, a bare `&`, a repeated attribute…).
 * - Entities (`processEntities`, through our own `EntityDecoder` from @nodable/entities, the
 *   library's entity engine): only XML's five predefined entities and character references are
 *   decoded (`htmlEntities: false`); a reference to any other entity (HTML's `&nbsp;`) is refused
 *   rather than left in the text as fast-xml-parser does by default; a DTD that declares entities is
 *   refused outright (`onInputEntity`), so billion-laughs and external entities never expand; `&#0;`
 *   is refused.
 * - Values are strings exactly as sent (`parseTagValue: false`, `trimValues: false`), in document
 *   order (`preserveOrder`), so one `<msg>` and many read alike and callers walk one shape.
 *
 * Where the library cannot be configured to refuse what a conformant parser refuses, this module
 * says so and the tests pin the behaviour (test/xml-parse.test.ts, "where fast-xml-parser is
 * lenient"):
 * - two root elements pass the validator: refused here, from the parsed shape;
 * - `]]>` in text is accepted, and character references to C0 controls other than NUL or to lone
 *   surrogates are dropped instead of refused. Our builder
 *   never writes any of these (property-tested), so only a foreign answer can hold them.
 */
import { EntityDecoder, ENTITY_ACTION } from '@nodable/entities';
import { XMLParser, XMLValidator } from 'fast-xml-parser';

/**
 * One node as fast-xml-parser's `preserveOrder` mode gives it: an element is `{ [name]: children,
 * ':@'?: { '@attr': value } }`, a piece of character data `{ '#text': string }`. Read it through
 * the helpers below, never by hand.
 */
export interface XmlElement {
  readonly [key: string]: XmlElement[] | Readonly<Record<string, string>> | string | undefined;
}

/** Thrown for a document that is not well-formed; `line`/`column` where the validator says. */
export class XmlReadError extends Error {
  constructor(
    message: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(line === undefined ? message : `${line}:${column ?? 0}: ${message}`);
    this.name = 'XmlReadError';
  }
}

const TEXT = '#text';
const ATTR = '@';
const ATTRS = ':@';

// The five predefined entities and character references; anything else names an entity XML does
// not define. `postCheck` sees the raw text, so `&amp;nbsp;` (a literal "&nbsp;") passes.
const UNDEFINED_ENTITY = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)([^;\s]{0,32};?)/;

const entities = new EntityDecoder({
  namedEntities: null,
  numericAllowed: true,
  ncr: { nullNCR: 'throw' },
  // A DTD's entity declarations: refused, never expanded.
  onInputEntity: () => ENTITY_ACTION.THROW,
  postCheck: (resolved: string, original: string) => {
    const bad = UNDEFINED_ENTITY.exec(original);
    if (bad) throw new XmlReadError(`undefined entity &${bad[1] ?? ''}`);
    return resolved;
  },
});

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: ATTR,
  textNodeName: TEXT,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: true,
  htmlEntities: false,
  entityDecoder: entities,
  // Document order, and ~20% faster than the default object shape: no merge of siblings by name.
  preserveOrder: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  // Callbacks get the tag name only: no path string is built for every element.
  jPath: false,
});

/** The element's name (its one key besides the attributes). */
export function nameOf(el: XmlElement): string | undefined {
  for (const key in el) if (key !== ATTRS && key !== TEXT) return key;
  return undefined;
}

function content(el: XmlElement): XmlElement[] {
  const name = nameOf(el);
  const c = name === undefined ? undefined : el[name];
  return Array.isArray(c) ? c : [];
}

/** Parses a whole document into its root element. Throws XmlReadError if it is not well-formed. */
export function readXml(xml: string): { name: string; root: XmlElement } {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new XmlReadError(valid.err.msg, valid.err.line, valid.err.col);
  let doc: XmlElement[];
  try {
    doc = parser.parse(xml) as XmlElement[];
  } catch (err) {
    if (err instanceof XmlReadError) throw err;
    throw new XmlReadError((err as Error).message);
  }
  // Comments and the declaration are dropped; what is left at the top are elements (the validator
  // refuses text there) — and the validator lets `<a/><b/>` through: one root, exactly.
  const root = doc[0];
  const name = root === undefined ? undefined : nameOf(root);
  if (root === undefined || name === undefined) throw new XmlReadError('no root element');
  if (doc.length > 1) throw new XmlReadError('more than one root element');
  return { name, root };
}

/** The element's own character data (text and CDATA, references decoded), children's left out. */
export function text(el: XmlElement): string {
  let out = '';
  for (const node of content(el)) {
    const t = node[TEXT];
    if (typeof t === 'string') out += t;
  }
  return out;
}

/** An attribute's value, references decoded, or undefined. */
export function attr(el: XmlElement, name: string): string | undefined {
  const attrs = el[ATTRS] as Readonly<Record<string, string>> | undefined;
  return attrs?.[ATTR + name];
}

/** The child elements of that name, in document order. */
export function children(el: XmlElement, name: string): XmlElement[] {
  return content(el).filter((node) => Object.hasOwn(node, name));
}

/** The first child element of that name. */
export function child(el: XmlElement, name: string): XmlElement | undefined {
  return content(el).find((node) => Object.hasOwn(node, name));
}

/**
 * The elements reached from `el` by a path of child names:
 * `elementsAt(pkg, 'message-viber', 'msg')` is every `<msg>` of every `<message-viber>`.
 */
export function elementsAt(el: XmlElement, ...path: string[]): XmlElement[] {
  let level = [el];
  for (const name of path) level = level.flatMap((e) => children(e, name));
  return level;
}
