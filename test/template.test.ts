/**
 * Personalised texts: `{{column}}` placeholders filled from each row at enqueue. Pure rules first
 * (the oracle is the plain string the test writes out), then the whole path: the gateway (the
 * sandbox's own parse of each package) receives exactly the filled text, and a broken campaign
 * template is refused before anything is written.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fillTemplate, templateProblem } from '../src/producer/template.js';
import { validateMessage } from '../src/producer/validate.js';
import { runCli } from './cli-run.js';
import { createRig, type Rig } from './fixture.js';
import { testRedis, waitFor } from './helpers.js';

const NAMES = ['Олена', 'Zoë 🎉', '<b>&amp; "Tom" & Jerry</b>', "O'Brien\u00a0Jr."];

describe('a personalised text (pure)', () => {
  it('is filled from the row, each value exactly as written', () => {
    for (const name of NAMES) {
      expect(fillTemplate('Привіт, {{name}}! Код {{ code }}.', { name, code: 42 })).toEqual({
        ok: true,
        text: `Привіт, ${name}! Код 42.`,
      });
    }
  });

  it('names the column a row leaves empty or lacks', () => {
    const r = fillTemplate('Hi {{name}}, {{city}}', { name: 'Ann', city: '  ' });
    expect(r).toEqual({ ok: false, rule: expect.stringContaining('"city"') });
    expect(fillTemplate('Hi {{name}}', {})).toEqual({
      ok: false,
      rule: expect.stringContaining('"name"'),
    });
    // A nested value is not text.
    expect(fillTemplate('Hi {{name}}', { name: { first: 'Ann' } }).ok).toBe(false);
  });

  it('says which placeholder is broken', () => {
    expect(templateProblem('Hi {{name')).toBe('placeholder "{{name" has no closing }}');
    expect(templateProblem('Hi {{}} there')).toMatch(/must name a column/);
    expect(templateProblem('Hi {{ name }}, {{code}}')).toBeUndefined();
  });

  it('percent-encodes values that go into a button URL', () => {
    const m = validateMessage({
      id: 1,
      phone: '+380971234567',
      sender: 'Shop',
      type: 'button',
      text: 'Hi {{name}}',
      image: 'https://example.com/a.png',
      button: 'Open',
      url: 'https://example.com/o?u={{name}}',
      name: 'Олена & Co',
    });
    expect(m.ok && m.message.url).toBe(
      `https://example.com/o?u=${encodeURIComponent('Олена & Co')}`,
    );
    expect(m.ok && m.message.text).toBe('Hi Олена & Co');
  });

  it('is checked against the text limit once filled, and a row with its own broken text is refused alone', () => {
    const long = validateMessage(
      { id: 1, phone: '+380971234567', name: 'x'.repeat(20) },
      { sender: 'Shop', text: 'Hi {{name}}' },
      { maxTextLength: 10, country: 'UA' },
    );
    expect(long).toEqual({
      ok: false,
      problems: [{ field: 'text', rule: 'must be at most 10 characters (maxTextLength)' }],
    });
    const broken = validateMessage({ id: 2, phone: '+380971234567', sender: 'S', text: '{{x' });
    expect(broken).toEqual({
      ok: false,
      problems: [{ field: 'text', rule: 'placeholder "{{x" has no closing }}' }],
    });
  });
});

describe('personalised texts, enqueue to gateway', () => {
  let rig: Rig;
  let dir: string;
  beforeEach(async () => {
    rig = await createRig('tmpl');
    dir = await mkdtemp(join(tmpdir(), 'vb-tmpl-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
    await rig.close();
  });

  it('reach the gateway filled, exactly, from library rows and from a CSV through the CLI', async () => {
    const rows = NAMES.map((name, i) => ({
      id: 1 + i,
      phone: `+38097123456${i}`,
      columns: { name, code: 100 + i },
    }));
    const r = await rig.producer.enqueue('lib', rows, {
      defaults: { sender: 'Shop', text: 'Привіт, {{name}}! Ваш код {{code}}' },
    });
    expect(r.enqueued).toBe(NAMES.length);
    const csv = join(dir, 'c.csv');
    const quoted = (s: string) => `"${s.replace(/"/g, '""')}"`;
    await writeFile(
      csv,
      'id,phone,name\n' +
        NAMES.map((n, i) => `${11 + i},+38097123457${i},${quoted(n)}`).join('\n') +
        '\n',
    );
    const run = await runCli(
      [
        'enqueue',
        '--campaign',
        'csv',
        '--file',
        csv,
        '--sender',
        'Shop',
        '--text',
        'Hi {{name}} 👋',
      ],
      { VIBER_QUEUE: rig.queueName },
    );
    expect(run.code).toBe(0);
    await rig.startWorker();
    const sent = 2 * NAMES.length;
    await waitFor(() => rig.sandbox.accepted.size === sent, 'every message accepted');
    NAMES.forEach((name, i) => {
      expect(rig.sandbox.accepted.get(1 + i)?.message?.text).toBe(
        `Привіт, ${name}! Ваш код ${100 + i}`,
      );
      expect(rig.sandbox.accepted.get(11 + i)?.message?.text).toBe(`Hi ${name} 👋`);
    });
    // The column that only fed the text is not stored: records hold the message's fields.
    const redis = await testRedis();
    try {
      const done = await redis.hgetall(rig.queue.toKey('vb:done'));
      expect(Object.keys(done)).toHaveLength(sent);
      for (const raw of Object.values(done)) expect(raw).not.toContain('"name"');
    } finally {
      redis.disconnect();
    }
  });

  it('refuses a campaign text with a broken placeholder before anything is written (exit 2)', async () => {
    const csv = join(dir, 'c.csv');
    await writeFile(csv, 'id,phone,name\n1,+380971234567,Ann\n');
    const run = await runCli(
      ['enqueue', '--campaign', 'broken', '--file', csv, '--sender', 'Shop', '--text', 'Hi {{name'],
      { VIBER_QUEUE: rig.queueName },
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('placeholder "{{name" has no closing }}');
    expect((await rig.inspector.counts('broken')).total).toBe(0);
    const redis = await testRedis();
    try {
      expect(await redis.keys(`${rig.queue.toKey('')}vb:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});
