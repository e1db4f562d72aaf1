import { createRig, type Rig } from './fixture.js';
import { sampleMessages } from './helpers.js';

describe('producer.waitUntilFinished', () => {
  let rig: Rig;

  afterEach(async () => {
    await rig.close();
  });

  it('resolves with the counts once every message is sent or ended, not before', async () => {
    rig = await createRig('wait');
    await rig.producer.enqueue('c', sampleMessages(40, 1));
    const waiting = rig.producer.waitUntilFinished('c', { timeoutMs: 30_000, everyMs: 20 });
    let settled = false;
    void waiting.then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).toBe(false); // no worker yet
    await rig.startWorker();
    const counts = await waiting;
    // The gateway's own record agrees: every message accepted once, when the wait ended.
    expect(rig.sandbox.accepted.size).toBe(40);
    expect(counts).toMatchObject({ total: 40, completed: 40, waiting: 0, active: 0 });
    expect(counts.finishedAt).not.toBeNull();
  });

  it('rejects with WAIT_TIMEOUT, saying what it waited for: a paused campaign, then its tracking', async () => {
    rig = await createRig('waitto');
    await rig.producer.enqueue('p', sampleMessages(10, 1));
    await rig.producer.pause('p');
    await rig.startWorker({ trackAfterMs: 60_000 });
    await expect(rig.producer.waitUntilFinished('p', { timeoutMs: 500 })).rejects.toMatchObject({
      code: 'WAIT_TIMEOUT',
      message: expect.stringContaining('for its messages to be sent; 0 of 10 sent or ended'),
    });
    await rig.producer.resume('p');
    const sent = await rig.producer.waitUntilFinished('p', { timeoutMs: 30_000 });
    expect(sent.delivery.tracking).toBe(10);
    // Tracking asks nothing for a minute: waiting for it to end times out.
    await expect(
      rig.producer.waitUntilFinished('p', { timeoutMs: 500, tracking: true }),
    ).rejects.toMatchObject({
      code: 'WAIT_TIMEOUT',
      message: expect.stringContaining('for its delivery tracking to end'),
    });
    await expect(rig.producer.waitUntilFinished('nope')).rejects.toMatchObject({
      code: 'INVALID_OPTION',
    });
  });
});
