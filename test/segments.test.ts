/**
 * SMS segments of a fallback text: the fast count (src/producer/segments.ts) and Twilio's
 * sms-segments-calculator, the oracle, agree on every text — near segment boundaries, with
 * escaped GSM characters, emoji, combining marks and CR LF.
 */
import fc from 'fast-check';
import { librarySegments, smsSegments } from '../src/producer/segments.js';

/** Characters from every class the count treats apart. */
const ALPHABET = [
  ...'abcXYZ019 @£$¥èéÇ\nØåΔ_ΦÆßÉ!"#¤%&\'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà', // GSM-7 basic
  ...'{}[]~^|€\\', // GSM-7 escaped: two units each
  ...'ґєїщЖЯёыёŁłąęść—–…«»“”„’№₴ℓ', // one UCS-2 unit, one grapheme
  '\r',
  '\r\n',
  '👋',
  '📵',
  '🇺🇦',
  'é', // e + combining acute
  '\u200d',
  '\ufe0f',
  '\t',
];

describe('SMS segments', () => {
  it('counts GSM-7 and UCS-2 texts at the documented sizes', () => {
    expect(smsSegments('a'.repeat(160))).toEqual({ segments: 1, encoding: 'GSM-7' });
    expect(smsSegments('a'.repeat(161))).toEqual({ segments: 2, encoding: 'GSM-7' });
    expect(smsSegments('a'.repeat(306))).toEqual({ segments: 2, encoding: 'GSM-7' });
    expect(smsSegments('a'.repeat(307))).toEqual({ segments: 3, encoding: 'GSM-7' });
    expect(smsSegments('я'.repeat(70))).toEqual({ segments: 1, encoding: 'UCS-2' });
    expect(smsSegments('я'.repeat(71))).toEqual({ segments: 2, encoding: 'UCS-2' });
    expect(smsSegments('я'.repeat(134))).toEqual({ segments: 2, encoding: 'UCS-2' });
    expect(smsSegments('я'.repeat(135))).toEqual({ segments: 3, encoding: 'UCS-2' });
    // An escaped character counts twice: 159 + € is 161 units.
    expect(smsSegments('a'.repeat(159) + '€')).toEqual({ segments: 2, encoding: 'GSM-7' });
  });

  it('agrees with sms-segments-calculator on every character the fast count knows, at both boundaries', () => {
    const ranges = [
      [0x00, 0x24f],
      [0x370, 0x3ff],
      [0x400, 0x4ff],
      [0x2000, 0x206f],
      [0x20a0, 0x20bf],
      [0x2100, 0x214f],
    ];
    for (const [from, to] of ranges) {
      for (let c = from!; c <= to!; c++) {
        const ch = String.fromCharCode(c);
        for (const t of ['a'.repeat(159) + ch, 'я'.repeat(69) + ch + ch, ch.repeat(71)]) {
          expect({ c, ...smsSegments(t) }).toEqual({ c, ...librarySegments(t) });
        }
      }
    }
  });

  it('agrees with sms-segments-calculator on any text, at any length around a boundary', () => {
    const text = fc
      .tuple(
        fc.array(fc.constantFrom(...ALPHABET), { maxLength: 12 }),
        fc.constantFrom('a', 'я', '€', '👋'),
        fc.constantFrom(
          60,
          66,
          67,
          68,
          69,
          70,
          71,
          130,
          150,
          152,
          153,
          154,
          159,
          160,
          161,
          300,
          306,
          307,
        ),
      )
      .map(([mix, filler, n]) => {
        const s = filler.repeat(Math.ceil(n / filler.length)) + mix.join('');
        return s.slice(0, n) + mix.join('');
      });
    fc.assert(
      fc.property(text, (t) => {
        expect({ t, ...smsSegments(t) }).toEqual({ t, ...librarySegments(t) });
      }),
      { numRuns: 3000 },
    );
  });
});
