import fc from 'fast-check';
import { buildSendPackage, buildSmsPackage, buildStatusPackage } from '../src/xml/build.js';
import { readRequest } from '../src/sandbox/protocol.js';
import type { ViberMessage } from '../src/message.js';
import { validateMessage } from '../src/producer/validate.js';

const seed: ViberMessage = {
  id: 1234,
  phone: '+380971234567',
  sender: 'SMSTest',
  type: 'image',
  text: 'Message text to be sent via Viber',
  image: 'https://image.url/image.png',
};

/**
 * The oracle for "XML can carry it", written from the XML 1.0 `Char` production and checked code
 * point by code point (not the implementation's regex): #x9 | #xA | #xD | [#x20-#xD7FF] |
 * [#xE000-#xFFFD] | [#x10000-#x10FFFF]. A lone surrogate is its own code point here.
 */
function carriable(text: string): boolean {
  for (const ch of text) {
    const c = ch.codePointAt(0) as number;
    const ok =
      c === 0x9 ||
      c === 0xa ||
      c === 0xd ||
      (c >= 0x20 && c <= 0xd7ff) ||
      (c >= 0xe000 && c <= 0xfffd) ||
      (c >= 0x10000 && c <= 0x10ffff);
    if (!ok) return false;
  }
  return true;
}

describe('building a send package', () => {
  it('builds the seed page example: key attribute, message-viber block, msg with id and child elements', () => {
    const xml = buildSendPackage('bb56a4369eb19cfec6d1776bd25', [seed]);
    expect(xml).toBe(
      '<?xml version="1.0" encoding="utf-8"?><package key="bb56a4369eb19cfec6d1776bd25"><message-viber>' +
        '<msg id="1234"><phone>+380971234567</phone><sender>SMSTest</sender><type>image</type>' +
        '<text>Message text to be sent via Viber</text><image>https://image.url/image.png</image></msg>' +
        '</message-viber></package>',
    );
  });

  it('reads back, through the gateway-side parser, exactly what was put in', () => {
    const pkg = readRequest(buildSendPackage('k', [seed]));
    expect(pkg?.key).toBe('k');
    expect(pkg?.viber).toEqual([
      {
        id: '1234',
        phone: seed.phone,
        sender: 'SMSTest',
        type: 'image',
        text: seed.text,
        image: seed.image,
        button: undefined,
        url: undefined,
      },
    ]);
  });

  it.each([
    ['markup characters', `a & b < c > d " e ' f`],
    ['what looks like an entity', '&amp; &lt; &#13; &#x41;'],
    ['a CDATA terminator', 'x ]]> y <![CDATA[ z ]]>'],
    ['emoji and Cyrillic', 'Привіт, світ! 👋🏽 🇺🇦'],
    ['newlines, CRLF and tabs', 'line1\nline2\r\nline3\r\tend'],
    ['surrounding whitespace', '   padded   '],
    ['right-to-left text and combining marks', 'مرحبا e\u0301 \u202Eevil'],
  ])('escapes %s so the text survives unchanged', (_what, text) => {
    const pkg = readRequest(buildSendPackage('k', [{ ...seed, text }]));
    expect(pkg?.viber[0]?.text).toBe(text);
  });

  it('carries button messages with caption and url, and text messages without an image', () => {
    const button: ViberMessage = {
      ...seed,
      id: 2,
      type: 'button',
      button: 'Buy & save',
      url: 'https://shop.example/?a=1&b=2',
    };
    const text: ViberMessage = {
      id: 3,
      phone: '+380971234568',
      sender: 'S',
      type: 'text',
      text: 'hi',
      image: 'https://x/y.png',
    };
    const pkg = readRequest(buildSendPackage('k', [button, text]));
    expect(pkg?.viber[0]).toMatchObject({
      id: '2',
      type: 'button',
      button: 'Buy & save',
      url: 'https://shop.example/?a=1&b=2',
    });
    expect(pkg?.viber[1]).toMatchObject({ id: '3', type: 'text', image: undefined });
  });

  it('escapes the key attribute, whatever it holds', () => {
    expect(readRequest(buildSendPackage(`k"&<'>`, [seed]))?.key).toBe(`k"&<'>`);
  });

  it('escapes <msg id> like every other attribute, whatever type reaches the builder', () => {
    const hostile = `1" sms_id="9"><text>x</text></msg><msg id="2`;
    const sent = readRequest(buildSendPackage('k', [{ ...seed, id: hostile as never }]));
    expect(sent?.viber.map((m) => m.id)).toEqual([hostile]);
    const asked = readRequest(buildStatusPackage('k', [hostile as never, 77]));
    expect(asked?.status.map((s) => s.id)).toEqual([hostile, '77']);
  });

  it.each([
    ['a NUL', 'a\u0000b', 'U+0000'],
    ['a vertical tab', 'a\u000Bb', 'U+000B'],
    ['a lone surrogate', 'a\uD800b', 'U+D800'],
    ['U+FFFF', 'a\uFFFFb', 'U+FFFF'],
  ])('rejects text with %s, naming the message, field and position', (_what, text, hex) => {
    expect(() => buildSendPackage('k', [{ ...seed, text }])).toThrow(
      expect.objectContaining({
        code: 'XML_UNSAFE_TEXT',
        message: `message 1234 text: character ${hex} at position 1 cannot be carried by XML 1.0`,
      }),
    );
  });

  it('never names the key in an error about the key', () => {
    try {
      buildSendPackage('secret\u0001key', [seed]);
      throw new Error('expected a throw');
    } catch (err) {
      expect((err as { code: string }).code).toBe('XML_UNSAFE_TEXT');
      expect((err as Error).message).not.toContain('secret');
    }
  });

  it('builds a status request by user ids', () => {
    const pkg = readRequest(buildStatusPackage('k', [1234, 77]));
    expect(pkg?.status).toEqual([
      { id: '1234', smsId: undefined },
      { id: '77', smsId: undefined },
    ]);
  });

  it('reads requests the way a conforming XML parser does: CDATA and references decoded, undefined entities and anything not well-formed refused (package error 201)', () => {
    const msg = (text: string) =>
      `<package key="k"><message-viber><msg id="1"><phone>+380971234567</phone><sender>S</sender><type>text</type><text>${text}</text></msg></message-viber></package>`;
    expect(readRequest(msg('<![CDATA[a <b> & c]]>&#38;&#x1F389;'))?.viber[0]?.text).toBe(
      'a <b> & c&🎉',
    );
    // CRLF in a document is LF to any XML parser; only a character reference carries a CR.
    expect(readRequest(msg('a\r\nb&#13;'))?.viber[0]?.text).toBe('a\nb\r');
    expect(readRequest(msg('&nbsp;'))).toBeUndefined(); // HTML's, not XML's
    expect(readRequest(`<!DOCTYPE package [<!ENTITY e "x">]>${msg('&e;')}`)).toBeUndefined();
    expect(readRequest(msg('<b>unclosed'))).toBeUndefined();
    expect(readRequest(msg('x') + '<package/>')).toBeUndefined();
    expect(readRequest('<other key="k"/>')).toBeUndefined();
  });

  it('refuses an empty package', () => {
    expect(() => buildSendPackage('k', [])).toThrow(RangeError);
  });

  it.each([
    0x0, 0x8, 0x9, 0xa, 0xb, 0xd, 0x1f, 0x20, 0xd7ff, 0xd800, 0xdfff, 0xe000, 0xfffd, 0xfffe,
    0xffff, 0x10000, 0x10ffff,
  ])('carries U+%s exactly when XML 1.0 can (the edges of its Char production)', (cp) => {
    // A lone surrogate is built from its code unit; the rest from their code point.
    const ch = cp >= 0xd800 && cp <= 0xdfff ? String.fromCharCode(cp) : String.fromCodePoint(cp);
    const text = `a${ch}b`;
    let built: string | undefined;
    try {
      built = buildSendPackage('k', [{ ...seed, text }]);
    } catch (err) {
      expect((err as { code: string }).code).toBe('XML_UNSAFE_TEXT');
    }
    expect(built !== undefined).toBe(carriable(text));
    if (built !== undefined) expect(readRequest(built)?.viber[0]?.text).toBe(text);
  });

  it('round-trips any text XML can carry, and rejects before building any it cannot', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 60 }),
        fc.string({ unit: 'binary', maxLength: 30 }),
        (a, b) => {
          const text = a + b;
          let xml: string;
          try {
            xml = buildSendPackage('k', [{ ...seed, text }]);
          } catch (err) {
            // Refused only what XML cannot carry: nothing valid is refused…
            expect((err as { code: string }).code).toBe('XML_UNSAFE_TEXT');
            expect(carriable(text)).toBe(false);
            return;
          }
          // …and nothing XML cannot carry is built; what is built reads back unchanged.
          expect(carriable(text)).toBe(true);
          expect(readRequest(xml)?.viber[0]?.text).toBe(text);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('lets through validation exactly the texts that round-trip: the rest is rejected before enqueue, with the reason', () => {
    const tricky = fc.constantFrom(
      ']]>',
      '<![CDATA[',
      '\u202E',
      'e\u0301',
      '\uD83D',
      '\uDE00',
      '\u0000',
      '\u0008',
      '\r',
      '\r\n',
      '\uFFFE',
      '&#0;',
      '👩‍👩‍👧',
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            tricky,
            fc.string({ unit: 'binary', maxLength: 8 }),
            fc.string({ unit: 'grapheme', maxLength: 8 }),
          ),
        ),
        (parts) => {
          const text = parts.join('').slice(0, 1000);
          const v = validateMessage({ ...seed, text });
          // Both directions: refused exactly when empty or not carriable (the oracle above).
          expect(v.ok).toBe(text !== '' && carriable(text));
          if (!v.ok) {
            // Empty, or a character XML cannot carry, named with its code point and position.
            expect(v.problems).toEqual([
              {
                field: 'text',
                rule:
                  text === ''
                    ? 'is required'
                    : expect.stringMatching(
                        /^character U\+[0-9A-F]{4,6} at position \d+ cannot be carried by XML 1\.0$/,
                      ),
              },
            ]);
            return;
          }
          expect(readRequest(buildSendPackage('k', [v.message]))?.viber[0]?.text).toBe(text);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('round-trips an SMS: its text as content and its sender as an attribute, whatever XML can carry', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 40 }),
        fc.string({ unit: 'binary', maxLength: 20 }),
        fc.string({ unit: 'binary', maxLength: 11 }),
        (a, b, sender) => {
          const text = a + b;
          const sms = { id: 7, phone: '+380971234567', sender, text };
          let xml: string;
          try {
            xml = buildSmsPackage('k', [sms]);
          } catch (err) {
            expect((err as { code: string }).code).toBe('XML_UNSAFE_TEXT');
            expect(carriable(text) && carriable(sender)).toBe(false);
            return;
          }
          expect(carriable(text) && carriable(sender)).toBe(true);
          expect(readRequest(xml)?.sms).toEqual([
            { id: '7', recipient: '+380971234567', sender, type: '0', text },
          ]);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
