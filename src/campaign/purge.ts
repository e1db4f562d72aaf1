/**
 * Purge: a finished campaign's messages leave Redis — their BullMQ jobs (each removed with
 * BullMQ's own removeJob, from whatever list holds it), the queued data of those never released,
 * the finished records, their tracking entries, then the
 * campaign's states, counts, control and listing. The memory comes back; the results go with it
 * (export them first: `viber-bulk results`).
 *
 * A campaign with messages still waiting, delayed, paused or being tracked is refused unless
 * `force`: then it is cancelled first, so that no worker sends any of it while it goes. Messages
 * on the wire (active) are never removed under a worker: purge refuses while there are any.
 * The check and a purging mark are one Lua step (purgeBegin-3.lua); while the mark stands every
 * enqueue of the campaign is refused whole (CAMPAIGN_PURGING) and the dispatcher leaves its
 * backlog alone, so no message enqueued at the same moment is lost with the campaign or left
 * behind as an id that reads as a duplicate. A purge stopped halfway is finished by running it
 * again.
 * After a purge the campaign's ids may be enqueued again (the gateway answers 208 for an id its
 * account has seen).
 */
import { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { RedisClient } from '../redis.js';
import { InvalidOptionError } from '../errors.js';
import { fallbackCampaign } from '../fallback.js';
import { cancelCampaign } from './controls.js';
import { assertCampaignName, type CampaignStore } from './store.js';

export interface PurgeOptions {
  /** Purge even what is not finished (it is cancelled first). Never what is on the wire. */
  force?: boolean;
}

/**
 * Purges every campaign whose last message finished more than `olderThanMs` ago and that nothing
 * tracks any more (never forced). Returns what it removed, campaign by campaign.
 */
export async function purgeFinished(
  store: CampaignStore,
  queue: Queue,
  olderThanMs: number,
  now = Date.now(),
): Promise<Array<{ campaign: string; removed: number }>> {
  const out: Array<{ campaign: string; removed: number }> = [];
  for (const campaign of await store.campaigns()) {
    const c = await store.counts(campaign);
    if (c.finishedAt === null || c.finishedAt > now - olderThanMs) continue;
    // finishedAt is cleared when messages come back; checked again here all the same.
    if (c.waiting + c.active + c.delayed + c.paused + c.delivery.tracking > 0) continue;
    // Nor while its SMS fallbacks are still going (they start after its own messages end).
    if (c.sms.waiting + c.sms.paused + c.sms.tracking > 0) continue;
    out.push({ campaign, removed: await purgeCampaign(store, queue, campaign) });
  }
  return out;
}

/** Removes a campaign; returns how many of its messages were removed. */
export async function purgeCampaign(
  store: CampaignStore,
  queue: Queue,
  campaign: string,
  opts: PurgeOptions = {},
): Promise<number> {
  assertCampaignName(campaign);
  const c = await store.counts(campaign);
  if (c.total === 0 && !(await store.purge.purging(campaign))) {
    throw new InvalidOptionError(`campaign ${campaign} has no messages on this queue`);
  }
  // Forced: cancelled first, so that no worker sends any of it while it goes.
  const held = c.waiting + c.delayed + c.paused + c.sms.waiting + c.sms.paused;
  if (opts.force && held > 0) await cancelCampaign(store, campaign);
  // The check and the mark that refuses every enqueue of the campaign from here on are one step.
  const forbid = await store.purge.begin(campaign, opts.force === true);
  if (forbid['active']) {
    throw new InvalidOptionError(
      `campaign ${campaign} has ${forbid['active']} messages on the wire: purge again once they are sent`,
    );
  }
  const unfinished = Object.entries(forbid);
  if (unfinished.length === 1 && forbid['tracking']) {
    const until =
      c.delivery.until === null
        ? ''
        : `, until ${new Date(c.delivery.until).toISOString()} at the latest`;
    throw new InvalidOptionError(
      `campaign ${campaign} is sent, and delivery tracking still follows ${forbid['tracking']} of its messages${until}: ` +
        'purge it after that, or now with --force (its results then lack the delivery reports still to come)',
    );
  }
  if (unfinished.length > 0) {
    throw new InvalidOptionError(
      `campaign ${campaign} is not finished (${unfinished.map(([k, n]) => `${n} ${k}`).join(', ')}): ` +
        'wait for it, cancel it, or purge with --force',
    );
  }
  let removed = 0;
  // The campaign's messages first: once they are untracked, no new SMS fallback can be made
  // (the tracking record script only writes while a message's tracking info stands).
  for (const c of [campaign, fallbackCampaign(campaign)]) {
    for await (const page of store.scanStates(c)) {
      const ids = page.map(([id]) => id);
      await store.purge.dropMessages(ids); // queued data (never released), finished records
      await store.purge.untrack(ids);
      if (c === campaign) removed += ids.length;
    }
    // Its packages, and their jobs (BullMQ's Queue.remove takes a job out of every list and set
    // that holds it, with its logs; one still being sent is left to end — it holds nothing now).
    const packages = await store.purge.dropPackages(c);
    for (let i = 0; i < packages.length; i += 500) {
      await Promise.all(packages.slice(i, i + 500).map((p) => queue.remove(p).catch(() => 0)));
    }
  }
  // Last, with the rest of the campaign: the marks, so that enqueues of it are taken again.
  await store.purge.forget(fallbackCampaign(campaign));
  await store.purge.forget(campaign);
  return removed;
}

/** purgeFinished for a worker's `keepFinishedMs`: what it removed, logged; failures logged too. */
export async function purgeAndLog(
  store: CampaignStore,
  connection: RedisClient,
  o: { queueName: string; prefix: string; keepFinishedMs: number },
  log: Pick<Logger, 'info' | 'warn'>,
): Promise<void> {
  const queue = new Queue(o.queueName, { connection, prefix: o.prefix });
  try {
    for (const p of await purgeFinished(store, queue, o.keepFinishedMs)) {
      log.info(p, 'purged a finished campaign (keepFinishedMs)');
    }
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not purge finished campaigns');
  } finally {
    await queue.close().catch(() => undefined);
  }
}
