/**
 * Campaign-wide fields are stored once: a job keeps what is its own and names the shared set; the
 * gateway still receives every message whole, and a row that overrides a shared value keeps its own.
 */
import type { SendJobData } from '../src/job.js';
import { createRig, type Rig } from './fixture.js';
import { testRedis, waitFor, messageView } from './helpers.js';

describe('shared campaign fields', () => {
  let rig: Rig;
  afterEach(async () => {
    await rig?.close();
  });

  it('jobs carry only their own fields; the gateway receives whole messages; overrides win', async () => {
    rig = await createRig('shared');
    const defaults = {
      sender: 'Shop',
      type: 'image' as const,
      text: 'Весняний розпродаж: −20% & <безкоштовна> доставка',
      image: 'https://cdn.example.com/sale.png',
    };
    const rows = Array.from({ length: 30 }, (_, i) => ({
      id: i + 1,
      phone: `+38097${String(1_000_000 + i)}`,
      ...(i === 7 ? { text: 'Only for you' } : {}),
    }));
    await rig.producer.enqueue('sale', rows, { defaults });
    // As queued (the job, once released, carries the same data).
    const { store } = await rig.producer.connection();
    const [one, eight] = (await store.queuedData([1, 8])).map(
      (d) => JSON.parse(d ?? '{}') as SendJobData,
    );
    expect(one).toEqual({
      campaign: 'sale',
      message: { id: 1, phone: '+380971000000' },
      shared: expect.stringMatching(/^[A-Za-z0-9_-]{12}$/),
    });
    expect(eight?.message).toEqual({
      id: 8,
      phone: '+380971000007',
      text: 'Only for you',
    });
    // The set itself, once, in Redis.
    const r = await testRedis();
    try {
      const stored = await r.hget(rig.queue.toKey('vb:shared'), one?.shared ?? '');
      expect(JSON.parse(stored ?? '{}')).toEqual(defaults);
    } finally {
      r.disconnect();
    }
    await rig.startWorker({ track: false });
    await waitFor(
      async () => (await rig.inspector.counts('sale')).completed === 30,
      'the campaign',
    );
    // What the gateway read from the XML: every field of every message.
    expect(rig.sandbox.accepted.get(1)?.message).toMatchObject({
      sender: 'Shop',
      type: 'image',
      text: defaults.text,
      image: defaults.image,
      phone: '+380971000000',
    });
    expect(rig.sandbox.accepted.get(8)?.message).toMatchObject({
      text: 'Only for you',
      sender: 'Shop',
    });
    // Its finished record is its record as queued, with its package and result added.
    const { package: pkg, result, ...rest } = (await messageView(rig.queue, 1))?.data ?? {};
    expect(rest).toEqual(one);
    expect(pkg).toMatch(/^p\d+$/);
    expect(result?.msgId).toBe(rig.sandbox.accepted.get(1)?.msgId);
  });
});
