/**
 * The suppression list: a phone on it is never messaged, whether it was suppressed before its
 * message was enqueued or after. The oracle is the sandbox's own record of what reached the
 * gateway, not our counts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './cli-run.js';
import { createRig, type Rig } from './fixture.js';
import { sampleMessages, waitFor } from './helpers.js';

describe('the suppression list', () => {
  let rig: Rig;
  beforeEach(async () => {
    rig = await createRig('suppress');
  });
  afterEach(async () => {
    await rig.close();
  });

  const ended = (campaign: string, n: number) =>
    waitFor(async () => {
      const c = await rig.inspector.counts(campaign);
      return c.total === n && c.waiting + c.active + c.delayed === 0 ? c : undefined;
    }, `${campaign} to end`);

  it('keeps a phone suppressed before enqueue from the gateway: recorded suppressed and counted', async () => {
    const msgs = sampleMessages(30, 1);
    const list = await rig.producer.suppressions();
    // Written as people write it: the same number enqueue stores as +380971000004.
    expect(await list.add(['+38 (097) 100-00-04', '0971000007', '12'])).toEqual({
      changed: 2,
      unchanged: 0,
      invalid: [{ phone: '12', rule: expect.any(String) }],
    });
    const dry = await rig.producer.enqueue('spring', msgs, { dryRun: true });
    expect(dry).toMatchObject({ enqueued: 28, suppressed: 2 });
    const r = await rig.producer.enqueue('spring', msgs);
    expect(r).toMatchObject({ enqueued: 28, suppressed: 2 });
    await rig.startWorker();
    const c = await ended('spring', 30);
    expect(c).toMatchObject({ completed: 28, suppressed: 2 });
    const sent = [...rig.sandbox.accepted.keys()].sort((a, b) => a - b);
    expect(sent).toEqual(msgs.map((m) => m.id).filter((id) => id !== 5 && id !== 8));
    // A campaign whose every message is suppressed has ended, with its finish time.
    const all = await rig.producer.enqueue(
      'optout',
      msgs.filter((m) => m.id === 5 || m.id === 8).map((m) => ({ ...m, id: m.id + 1000 })),
    );
    expect(all).toMatchObject({ enqueued: 0, suppressed: 2 });
    expect(await rig.inspector.counts('optout')).toMatchObject({
      total: 2,
      suppressed: 2,
      finishedAt: expect.any(Number),
    });
    expect(await rig.inspector.result(5)).toMatchObject({
      state: 'suppressed',
      msgId: null,
      error: expect.stringMatching(/^suppressed/),
    });
  });

  it('keeps a phone suppressed after enqueue from the gateway: it ends suppressed when packaged', async () => {
    const msgs = sampleMessages(40, 101);
    expect(await rig.producer.enqueue('autumn', msgs)).toMatchObject({ enqueued: 40 });
    const list = await rig.producer.suppressions();
    await list.add([msgs[10]!.phone, msgs[30]!.phone]);
    await rig.startWorker();
    const c = await ended('autumn', 40);
    expect(c).toMatchObject({ completed: 38, suppressed: 2 });
    expect(rig.sandbox.accepted.has(msgs[10]!.id)).toBe(false);
    expect(rig.sandbox.accepted.has(msgs[30]!.id)).toBe(false);
    expect(rig.sandbox.accepted.size).toBe(38);
    // Off the list again: a later campaign reaches it.
    expect(await list.remove([msgs[10]!.phone])).toMatchObject({ changed: 1 });
    expect(await list.check([msgs[10]!.phone, msgs[30]!.phone])).toEqual([
      { phone: msgs[10]!.phone, e164: msgs[10]!.phone, suppressed: false },
      { phone: msgs[30]!.phone, e164: msgs[30]!.phone, suppressed: true },
    ]);
  });

  it('viber-bulk suppress reads phones as enqueue does: add, check, import, list, remove', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vb-suppress-'));
    try {
      const env = { VIBER_QUEUE: rig.queueName };
      const add = await runCli(['suppress', 'add', '+38 (097) 123-45-67', '--json'], env);
      expect(add.code).toBe(0);
      expect(JSON.parse(add.stdout)).toMatchObject({ added: 1, invalid: [] });
      const check = await runCli(
        ['suppress', 'check', '380971234567', '0971234568', '--json'],
        env,
      );
      expect(JSON.parse(check.stdout)).toEqual([
        { phone: '380971234567', e164: '+380971234567', suppressed: true },
        { phone: '0971234568', e164: '+380971234568', suppressed: false },
      ]);
      const csv = join(dir, 'optout.csv');
      await writeFile(csv, 'name,phone\nAnn,097 123 45 68\nBob,+380971234567\nEve,12\n');
      const txt = join(dir, 'optout.txt');
      await writeFile(txt, '+380971234569\n\n0971234570\n');
      const imp = await runCli(['suppress', 'import', '--file', csv, '--json'], env);
      expect(imp.code).toBe(1); // one row is not a mobile number, named with its line
      expect(JSON.parse(imp.stdout)).toEqual({ added: 1, unchanged: 1, invalid: 1 });
      expect(imp.stderr).toContain('(line 4): 12');
      expect((await runCli(['suppress', 'import', '--file', txt], env)).code).toBe(0);
      const list = await runCli(['suppress', 'list', '--json'], env);
      expect(JSON.parse(list.stdout)).toEqual([
        '+380971234567',
        '+380971234568',
        '+380971234569',
        '+380971234570',
      ]);
      expect((await runCli(['suppress', 'remove', '0971234567'], env)).code).toBe(0);
      const plain = await runCli(['suppress', 'list'], env);
      expect(plain.stdout.trim().split('\n').sort()).toEqual([
        '+380971234568',
        '+380971234569',
        '+380971234570',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
