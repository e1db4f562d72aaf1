/**
 * The sandbox gateway speaks SMS too (`<message>`, attributes and the text as content) from the
 * same account id space as Viber, and can have phones without Viber. Requests are built with our
 * builders and POSTed over real HTTP; answers are read with our parser.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { request } from 'undici';
import { phoneWithoutViber, SandboxGateway, type SandboxOptions } from '../src/sandbox/server.js';
import {
  buildSendPackage,
  buildSmsPackage,
  buildStatusPackage,
  parseAnswer,
  parseSendAnswer,
} from '../src/xml/index.js';
import type { SmsMessage } from '../src/message.js';
import { sampleMessages } from './helpers.js';

const KEY = 'sms-key';
const TEXT = 'Привіт, <Олена> & "друзі" 👋';

describe('the sandbox gateway, SMS and phones without Viber', () => {
  let sandbox: SandboxGateway;
  const start = async (opts: SandboxOptions = {}) => {
    sandbox = new SandboxGateway({ apiKey: KEY, ...opts });
    await sandbox.start();
  };
  const post = async (xml: string): Promise<string> => {
    const res = await request(sandbox.url, { method: 'POST', body: xml });
    return res.body.text();
  };
  afterEach(async () => {
    await sandbox.close();
  });

  const sms = (id: number, over: Partial<SmsMessage> = {}): SmsMessage => ({
    id,
    phone: '+380971234561',
    sender: 'Shop',
    text: TEXT,
    ...over,
  });

  it('accepts an SMS package, answers each id with its sms_id, and keeps the text exact', async () => {
    await start();
    const answer = parseSendAnswer(await post(buildSmsPackage(KEY, [sms(11), sms(12)])), [11, 12]);
    expect(answer.kind).toBe('results');
    if (answer.kind !== 'results') return;
    expect([...answer.results.values()].map((r) => r.code)).toEqual([1, 1]);
    expect(answer.results.get(11)?.msgId).toBe(sandbox.accepted.get(11)?.msgId);
    expect(sandbox.accepted.get(12)).toMatchObject({
      kind: 'sms',
      sms: { recipient: '+380971234561', sender: 'Shop', type: '0', text: TEXT },
    });
  });

  it('refuses what an SMS may not be, per message, with the documented codes', async () => {
    await start();
    const answer = parseSendAnswer(
      await post(
        buildSmsPackage(KEY, [
          sms(21, { sender: 'A sender too long' }),
          sms(22, { phone: '12' }),
          sms(23, { text: 'x'.repeat(1001) }),
        ]),
      ),
      [21, 22, 23],
    );
    if (answer.kind !== 'results') throw new Error(answer.kind);
    expect([21, 22, 23].map((id) => answer.results.get(id)?.code)).toEqual([202, 203, 204]);
  });

  it('shares one id space between Viber and SMS: an SMS with a Viber message id gets 208', async () => {
    await start();
    await post(buildSendPackage(KEY, sampleMessages(1, 31)));
    const answer = parseSendAnswer(await post(buildSmsPackage(KEY, [sms(31)])), [31]);
    if (answer.kind !== 'results') throw new Error(answer.kind);
    expect(answer.results.get(31)?.code).toBe(208);
  });

  it('delivers an SMS, never reads it, and ends a Viber message to a phone without Viber 105', async () => {
    await start({
      withoutViber: phoneWithoutViber,
      delivery: {
        delayMs: [0, 0],
        outcomes: { 102: 1 },
        readShare: 1,
        readDelayMs: [0, 0],
        seed: 1,
      },
    });
    // sampleMessages: message 41's phone ends in 0, 42's in 1.
    await post(buildSendPackage(KEY, sampleMessages(2, 41)));
    await post(buildSmsPackage(KEY, [sms(43, { phone: '+380971000000' })]));
    const status = parseAnswer(await post(buildStatusPackage(KEY, [41, 42, 43]))).statuses;
    expect(status.map((s) => [s.id, s.code])).toEqual([
      [41, 105],
      [42, 116],
      [43, 102],
    ]);
    expect(phoneWithoutViber('+380971000000')).toBe(true);
    expect(phoneWithoutViber('+380971000001')).toBe(false);
  });
});
