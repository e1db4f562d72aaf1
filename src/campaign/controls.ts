/**
 * Operator actions on a campaign, on a queue shared with other campaigns (which keep flowing):
 *
 *   pause        control = paused; waiting/delayed messages → p. The dispatcher releases nothing
 *                more of it; workers put any job of it they hold back in its backlog, unsent.
 *   resume       control cleared; p → w. The dispatcher releases its backlog again.
 *   cancel       control = cancelled; waiting/delayed/paused messages → x. Workers fail any job
 *                of the campaign they pick up, unsent. What is in flight or accepted stays so.
 *   retryFailed  failed messages (all, or with the given codes) → w; each goes back to its
 *                campaign's backlog from its finished record and is released as a new job with
 *                fresh attempts, keeping its id.
 *
 * A campaign's SMS fallbacks (its companion `<c>~sms`, src/fallback.ts) follow every action:
 * the dispatcher and workers read the campaign's control for them, and their states move with
 * the campaign's. The counts returned are the campaign's own (Viber) messages'.
 *
 * The control lives in Redis, so it survives worker restarts. Each state change goes through
 * the transition script with an "only from" guard, so an operator action never overwrites what
 * a worker recorded meanwhile.
 */
import type { Queue } from 'bullmq';
import { InvalidOptionError } from '../errors.js';
import { state as st } from './state.js';
import { assertCampaignName, type CampaignStore } from './store.js';
import { fallbackCampaign } from '../fallback.js';

/** Pages of a campaign's `[id, rawState]` pairs whose state `pick` accepts. */
async function forEachPage(
  store: CampaignStore,
  campaign: string,
  pick: (raw: string) => boolean,
  fn: (entries: Array<[number, string]>) => Promise<void>,
): Promise<void> {
  for await (const page of store.scanStates(campaign)) {
    const entries = page.filter(([, raw]) => pick(raw));
    if (entries.length > 0) await fn(entries);
  }
}

/** The campaign exists on this queue and, unless `allowCancelled`, was not cancelled. */
async function steerable(store: CampaignStore, campaign: string, allowCancelled = false) {
  assertCampaignName(campaign);
  const counts = await store.counts(campaign);
  if (counts.total === 0) {
    throw new InvalidOptionError(`campaign ${campaign} has no messages on this queue`);
  }
  if (!allowCancelled && counts.control === 'cancelled') {
    throw new InvalidOptionError(`campaign ${campaign} is cancelled`);
  }
}

/**
 * Moves every message now in one of the `from` states (letters, e.g. 'wd') to `to`, a page at a
 * time, guarded so that a message a worker moved meanwhile stays where the worker put it.
 * `after` sees each page's moved ids. Returns how many moved.
 */
async function moveAll(
  store: CampaignStore,
  campaign: string,
  from: string,
  to: string,
  after?: (moved: number[]) => Promise<unknown>,
): Promise<number> {
  let n = 0;
  await forEachPage(
    store,
    campaign,
    (raw) => raw.length === 1 && from.includes(raw),
    async (entries) => {
      const moved = await store.transition(
        campaign,
        entries.map(([id]) => [id, to]),
        from,
      );
      n += moved.length;
      await after?.(moved);
    },
  );
  return n;
}

/** Pauses a campaign; returns how many of its messages are paused now. */
export async function pauseCampaign(store: CampaignStore, campaign: string): Promise<number> {
  await steerable(store, campaign);
  await store.setControl(campaign, 'paused');
  await moveAll(store, campaign, st.waiting + st.delayed, st.paused);
  await moveAll(store, fallbackCampaign(campaign), st.waiting + st.delayed, st.paused);
  // Not moveAll's own count: a worker may park some of them between the two steps above.
  return (await store.counts(campaign)).paused;
}

export async function resumeCampaign(store: CampaignStore, campaign: string): Promise<number> {
  await steerable(store, campaign);
  await store.setControl(campaign, undefined);
  // Parked messages wait in the campaign's backlog: the dispatcher packages them from now on.
  await moveAll(store, fallbackCampaign(campaign), st.paused, st.waiting);
  return moveAll(store, campaign, st.paused, st.waiting);
}

/**
 * Cancels a campaign; returns how many of its messages are cancelled now. That number is final:
 * once no message is waiting, delayed or paused, what workers hold is either being sent (and
 * ends completed or failed) or cancelled already — a worker cannot activate a cancelled message.
 */
export async function cancelCampaign(store: CampaignStore, campaign: string): Promise<number> {
  await steerable(store, campaign, true);
  await store.setControl(campaign, 'cancelled');
  await moveAll(store, campaign, st.waiting + st.delayed + st.paused, st.cancelled);
  const held = st.waiting + st.delayed + st.paused;
  await moveAll(store, fallbackCampaign(campaign), held, st.cancelled);
  // Not moveAll's own count: a worker may cancel some of them between the two steps above.
  return (await store.counts(campaign)).cancelled;
}

export async function retryFailedCampaign(
  store: CampaignStore,
  queue: Queue,
  campaign: string,
  codes?: readonly number[],
): Promise<number> {
  await steerable(store, campaign);
  let retried = 0;
  // A failed SMS fallback is retried with the campaign's failed messages.
  for (const c of [campaign, fallbackCampaign(campaign)]) {
    retried += await retryFailedOf(store, queue, c, codes);
  }
  return retried;
}

async function retryFailedOf(
  store: CampaignStore,
  queue: Queue,
  campaign: string,
  codes?: readonly number[],
): Promise<number> {
  const wanted = codes && codes.length > 0 ? new Set(codes.map((c) => st.failed(c))) : undefined;
  let retried = 0;
  await forEachPage(
    store,
    campaign,
    (raw) => raw.startsWith('f:') && (!wanted || wanted.has(raw)),
    async (entries) => {
      // A failed message has its finished record; it goes back to its campaign's backlog and
      // into a new package, with fresh attempts, in its campaign's turn. A package job that
      // failed (none of its messages accepted) goes from bull-board with them.
      const { moved, packages } = await store.requeueFailed(
        campaign,
        entries.map(([id]) => id),
      );
      retried += moved.length;
      await Promise.all(
        [...packages].map(async (p) => {
          if ((await queue.getJobState(p)) === 'failed') await queue.remove(p).catch(() => 0);
        }),
      );
    },
  );
  return retried;
}
