/**
 * A well-formed XML document as a small element tree, read with saxes (a conformant,
 * non-validating XML parser: it rejects every well-formedness error, expands only the five
 * predefined entities and character references, and never fetches or expands a DTD's entities).
 * Both sides of the protocol read packages through this: answers (xml/parse.ts) and, in the
 * sandbox, requests (sandbox/protocol.ts).
 */
import { SaxesParser } from 'saxes';

export interface XmlElement {
  name: string;
  attributes: Readonly<Record<string, string>>;
  children: XmlElement[];
  /** The element's own character data (text and CDATA), exactly as read, children's left out. */
  text: string;
}

/** Parses a whole document. Throws (saxes' Error, `line:column: message`) if it is not well-formed. */
export function parseXmlTree(xml: string): XmlElement {
  const parser = new SaxesParser();
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const addText = (t: string): void => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  };
  parser.on('opentag', (tag) => {
    const el: XmlElement = {
      name: tag.name,
      attributes: tag.attributes as Record<string, string>,
      children: [],
      text: '',
    };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else root = el;
    if (!tag.isSelfClosing) stack.push(el);
  });
  parser.on('closetag', (tag) => {
    if (!tag.isSelfClosing) stack.pop();
  });
  parser.on('text', addText);
  parser.on('cdata', addText);
  parser.write(xml).close();
  if (!root) throw new Error('no root element');
  return root;
}

/** The first child element of that name. */
export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

/**
 * The elements reached from `el` by a path of child names, in document order:
 * `elementsAt(pkg, 'message-viber', 'msg')` is every `<msg>` of every `<message-viber>`.
 */
export function elementsAt(el: XmlElement, ...path: string[]): XmlElement[] {
  let level = [el];
  for (const name of path) level = level.flatMap((e) => e.children.filter((c) => c.name === name));
  return level;
}
