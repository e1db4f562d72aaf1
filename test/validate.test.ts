import { validateMessage } from '../src/producer/validate.js';

const ok = {
  id: 1,
  phone: '+380971234567',
  sender: 'SMSTest',
  type: 'image',
  text: 'hi',
  image: 'https://x.example/a.png',
};

const problems = (input: unknown, defaults = {}) => {
  const v = validateMessage(input, defaults);
  return v.ok ? [] : v.problems;
};

describe('validating a message', () => {
  it('accepts the seed message and keeps only the fields its type uses', () => {
    expect(validateMessage({ ...ok, button: 'x', url: 'https://y' })).toEqual({
      ok: true,
      message: {
        id: 1,
        phone: '+380971234567',
        sender: 'SMSTest',
        type: 'image',
        text: 'hi',
        image: 'https://x.example/a.png',
      },
      phoneRewritten: false,
    });
  });

  it('takes CSV strings: a numeric id string becomes a number, blank cells fall back to defaults', () => {
    const v = validateMessage(
      { id: '42', phone: '+380971234567', sender: '', text: '' },
      { sender: 'Shop', text: 'Sale', type: 'text' },
    );
    expect(v).toEqual({
      ok: true,
      message: { id: 42, phone: '+380971234567', sender: 'Shop', type: 'text', text: 'Sale' },
      phoneRewritten: false,
    });
  });

  it.each([
    ['+38 (097) 123-45-67', '+380971234567'],
    ['097-123-45-67', '+380971234567'],
    ['0971234567', '+380971234567'],
    ['380971234567', '+380971234567'],
    ['+380 97 123 45 67', '+380971234567'],
    ['+48 512 345 678', '+48512345678'],
  ])('writes %s, as spreadsheets hold it, in international form: %s', (written, sent) => {
    expect(validateMessage({ ...ok, phone: written })).toMatchObject({
      ok: true,
      message: { phone: sent },
      phoneRewritten: true,
    });
  });

  it('reads a national number in the country it is told (default UA)', () => {
    const pl = { maxTextLength: 1000, country: 'PL' as const };
    expect(validateMessage({ ...ok, phone: '512 345 678' }, {}, pl)).toMatchObject({
      ok: true,
      message: { phone: '+48512345678' },
    });
    expect(problems({ ...ok, phone: '512 345 678' })).toEqual([
      { field: 'phone', rule: 'is not a mobile number of its country (+380)' },
    ]);
  });

  it.each([
    [{ id: 0 }, 'id', 'must be a positive integer'],
    [{ id: -3 }, 'id', 'must be a positive integer'],
    [{ id: 1.5 }, 'id', 'must be a positive integer'],
    [{ id: 'abc' }, 'id', 'must be a positive integer'],
    [{ id: 2 ** 53 }, 'id', 'must be a safe integer (at most 2^53-1)'],
    [{ id: undefined }, 'id', 'is required'],
    [{ phone: '380-97-123' }, 'phone', 'is too short for a mobile number'],
    [{ phone: '12' }, 'phone', 'is too short for a mobile number'],
    [{ phone: '+' + '1'.repeat(21) }, 'phone', 'is too long for a mobile number'],
    [{ phone: 'call me' }, 'phone', 'is not a phone number'],
    [{ phone: '+380441234567' }, 'phone', 'is not a mobile number of its country (+380)'],
    [{ phone: 380971234567 }, 'phone', 'must be a string'],
    [{ sender: 'TwelveChars!' }, 'sender', 'must be at most 11 characters (the gateway limit)'],
    [{ text: '' }, 'text', 'is required'],
    [{ text: 'a\u0000b' }, 'text', 'character U+0000 at position 1 cannot be carried by XML 1.0'],
    [{ type: 'video' }, 'type', 'must be one of text, image, button'],
    [{ image: 'ftp://x/a.png' }, 'image', 'must be an http(s) URL'],
    [{ image: 'https://x/a.bmp' }, 'image', 'path must end in .jpg, .jpeg, .png or .gif'],
    [{ image: undefined }, 'image', 'is required for image'],
  ])('rejects %o naming the field and the rule', (patch, field, rule) => {
    expect(problems({ ...ok, ...patch })).toContainEqual({ field, rule });
  });

  it('asks button messages for a 1-19 character caption and an http(s) url', () => {
    expect(problems({ ...ok, type: 'button' })).toEqual([
      { field: 'button', rule: 'is required for button' },
      { field: 'url', rule: 'is required for button' },
    ]);
    expect(problems({ ...ok, type: 'button', button: 'x'.repeat(20), url: 'mailto:a@b' })).toEqual([
      { field: 'button', rule: 'must be 1 to 19 characters' },
      { field: 'url', rule: 'must be an http(s) URL' },
    ]);
    expect(
      problems({ ...ok, type: 'button', button: '🛒 Buy now', url: 'https://shop.example' }),
    ).toEqual([]);
  });

  it('reports every broken rule at once', () => {
    expect(problems({ id: 'x', phone: 'y', text: '' }).map((p) => p.field)).toEqual([
      'id',
      'phone',
      'sender',
      'text',
    ]);
  });

  it('rejects what is not an object', () => {
    expect(problems('1,+38097')).toEqual([{ field: '(message)', rule: 'must be an object' }]);
    expect(problems(null)).toEqual([{ field: '(message)', rule: 'must be an object' }]);
  });

  it('text type needs no image', () => {
    expect(validateMessage({ id: 5, phone: '+380971234567', sender: 'S', text: 'plain' }).ok).toBe(
      true,
    );
  });
});
