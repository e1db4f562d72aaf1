/**
 * Promises about several worker *processes* on one queue, checked at the gateway: one throttle
 * pause and one rate limit for all of them (both live in Redis, not in a process).
 */
import { killAllCliWorkers, startCliWorker, type CliWorker } from './cli-worker.js';
import { createRig, type Rig } from './fixture.js';
import { sampleMessages, waitFor, messageCounts } from './helpers.js';

describe('a fleet of worker processes on one queue', () => {
  let rig: Rig;
  let fleet: CliWorker[] = [];
  afterEach(async () => {
    killAllCliWorkers();
    fleet = [];
    await rig.close();
  });

  const sentBy = (w: CliWorker, after = 0) =>
    w.lines('batch sent').filter((l) => l.time > after).length;

  async function stopFleet(): Promise<void> {
    for (const w of fleet) w.child.kill('SIGTERM');
    for (const w of fleet) expect((await w.exited()).code).toBe(0);
  }

  it('a 212 from the gateway pauses every worker process, and both resume after the pause', async () => {
    rig = await createRig('throttle-fleet');
    await rig.producer.enqueue('c', sampleMessages(4000, 1));
    fleet = [
      startCliWorker(rig, ['--concurrency', '2']),
      startCliWorker(rig, ['--concurrency', '2']),
    ];
    await waitFor(() => fleet.every((w) => sentBy(w) >= 3), 'both workers to be sending', 20_000);

    // The next package, whichever worker sends it, is throttled: every worker pauses 1 s (the
    // default first pause), not only the one that got the 212.
    const throttledAt = rig.sandbox.stats.requests; // index of the next request
    rig.sandbox.inject({ kind: 'package-error', code: 212 });
    await waitFor(() => rig.sandbox.stats.faults >= 1, 'the 212', 10_000, 5);
    const t0 = rig.sandbox.requestTimes[throttledAt] as number;
    await waitFor(() => Date.now() > t0 + 1500, 'the pause to pass', 5000);
    // Packages already past the limiter when the 212 came may still arrive just after it.
    const during = rig.sandbox.requestTimes.filter((t) => t > t0 + 150 && t < t0 + 900);
    expect(during).toEqual([]);
    // Both came back on their own.
    await waitFor(
      () => fleet.every((w) => sentBy(w, t0 + 1000) >= 2),
      'both workers to send again after the pause',
      20_000,
    );
    await stopFleet();
  });

  it('shares one rate limit: two processes, each sending, and the gateway never sees more than the limit in a second', async () => {
    rig = await createRig('rate-fleet');
    await rig.producer.enqueue('c', sampleMessages(400, 1));
    fleet = [
      startCliWorker(rig, ['--rate', '100', '--batch-size', '20']),
      startCliWorker(rig, ['--rate', '100', '--batch-size', '20']),
    ];
    await waitFor(
      async () => (await messageCounts(rig.queue, 'completed'))['completed'] === 400,
      'the campaign',
      30_000,
    );
    // Each process sent part of it…
    for (const w of fleet) expect(sentBy(w)).toBeGreaterThanOrEqual(2);
    // …and the gateway's own clock saw at most the limit (plus one package of network jitter)
    // in any one-second window, over at least the 3 s that 400 messages at 100/s take.
    const t = rig.sandbox.arrivals;
    let worst = 0;
    for (let i = 0, j = 0; i < t.length; i++) {
      while ((t[i] as number) - (t[j] as number) >= 1000) j++;
      worst = Math.max(worst, i - j + 1);
    }
    expect(t).toHaveLength(400);
    expect(worst).toBeLessThanOrEqual(100 + 20);
    expect((t[t.length - 1] as number) - (t[0] as number)).toBeGreaterThanOrEqual(2800);
    await stopFleet();
  });
});
