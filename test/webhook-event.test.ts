/** The pure pieces of a webhook request: retry waits, request ids, options and secrets. */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import {
  countEvents,
  firstEventAt,
  requestBody,
  requestId,
  retryDelay,
} from '../src/webhook/event.js';
import { resolveWebhookOptions, shownUrl, webhookView } from '../src/webhook/options.js';

describe('webhook retry waits', () => {
  it('double from the first wait up to the longest, each drawn from its upper half', () => {
    const at = (tries: number, r: number) => retryDelay(tries, 1000, 60_000, () => r);
    expect([1, 2, 3, 4].map((t) => at(t, 0))).toEqual([500, 1000, 2000, 4000]);
    expect([1, 2, 3, 4].map((t) => at(t, 0.999_999))).toEqual([1000, 2000, 4000, 8000]);
    expect(at(50, 0.999_999)).toBe(60_000);
    expect(at(50, 0)).toBe(30_000);
    expect(at(1e9, 0.5)).toBe(45_000); // no overflow however many tries
  });
});

describe('webhook request bodies', () => {
  const events =
    '[{"id":"e.1.1","type":"message.failed","campaign":"c","messageId":1,"code":203,' +
    '"reason":"not {\\"id\\":\\"x\\", \\"at\\":\\"never\\"}","at":"2026-12-07T21:05:00.123Z"},' +
    '{"id":"e.1.2","type":"campaign.finished","campaign":"c","counts":{"total":1},"at":"2026-12-07T21:05:01.000Z"}]';

  it("wrap the events the outbox holds, count them by their ids, and read the oldest one's time, escaped texts aside", () => {
    expect(JSON.parse(requestBody(events))).toEqual({ events: JSON.parse(events) });
    expect(countEvents(events)).toBe(2);
    expect(firstEventAt(events)).toBe(Date.parse('2026-12-07T21:05:00.123Z'));
    expect(countEvents('[]')).toBe(0);
    expect(firstEventAt('[]')).toBeUndefined();
  });

  it('are named by their outbox id: the same for every retry of a request', () => {
    expect(requestId('k3f9.r42')).toBe('msg_k3f9.r42');
  });
});

describe('webhook options', () => {
  const secret = 'whsec_' + Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');

  it('sign with the key after whsec_, or with a plain secret as its UTF-8 bytes', () => {
    const body = '{"events":[]}';
    const at = new Date(1_700_000_000_000);
    const mac = (key: Buffer) =>
      'v1,' + createHmac('sha256', key).update(`msg_1.1700000000.${body}`).digest('base64');
    const whsec = resolveWebhookOptions({ url: 'https://h.example/x', secret });
    expect(whsec.signer.sign('msg_1', at, body)).toBe(
      mac(Buffer.from('0123456789abcdef0123456789abcdef')),
    );
    const plain = resolveWebhookOptions({ url: 'https://h.example/x', secret: 'пароль ü' });
    expect(plain.signer.sign('msg_1', at, body)).toBe(mac(Buffer.from('пароль ü', 'utf8')));
  });

  it('refuse a bad URL, a missing secret and a whsec_ secret that is not base64, never echoing the secret', () => {
    expect(() => resolveWebhookOptions({ url: 'ftp://h.example', secret })).toThrow(
      /webhook.url must be http: or https:/,
    );
    expect(() => resolveWebhookOptions({ url: 'not a url', secret })).toThrow(/webhook.url/);
    expect(() => resolveWebhookOptions({ url: 'https://h.example', secret: '' })).toThrow(
      /webhook.secret is required/,
    );
    const bad = 'whsec_not*base64!';
    expect(() => resolveWebhookOptions({ url: 'https://h.example', secret: bad })).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTION',
        message: expect.not.stringContaining('not*base64') as unknown as string,
      }),
    );
    expect(() =>
      resolveWebhookOptions({ url: 'https://h.example', secret, batchSise: 5 } as never),
    ).toThrow(/unknown option "batchSise" \(did you mean "batchSize"\?\)/);
  });

  it('show the URL without credentials or query, and no secret', () => {
    const o = resolveWebhookOptions({ url: 'https://u:p@h.example/hooks?token=t0ken', secret });
    const shown = JSON.stringify(webhookView(o));
    expect(shown).toContain('"url":"https://h.example/hooks"');
    expect(shown).not.toMatch(/t0ken|u:p|whsec|signer/);
    expect(shownUrl('nope')).toBe('(not a URL)');
  });
});
