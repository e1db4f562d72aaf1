/**
 * Every Redis key of ours, spelled in one place (BullMQ's QueueKeys). All live under the queue's
 * prefix, `<prefix>:<queue>:` — `bull:viber:` by default, `bull:{viber}:` on a Cluster, so that
 * every key of a queue, BullMQ's and ours, shares one hash slot and any script may touch them all.
 *
 * | key | type | holds | per message |
 * |---|---|---|---|
 * | `vb:msg` | hash | id → the message's record JSON, from enqueue until it ends | ~150–300 B while not ended |
 * | `vb:done` | hash | id → finished record: its record + `package`, `result` or `failed`, then `delivery` | ~300–550 B once ended |
 * | `vb:c:<c>:state` | hash | id → state letter (campaign/state.ts) | ~30 B |
 * | `vb:c:<c>:counts` | hash | counts by state, code, delivery; `finishedAt`, `trackUntil` | — |
 * | `vb:c:<c>:tl` | hash | messages accepted (`a:<minute>`) and delivered (`d:<minute>`) per minute since epoch | — (~2 fields a minute of sending) |
 * | `vb:bl:<c>` | list | ids not yet released, in order | ~10 B while queued |
 * | `vb:campaigns` | zset | campaign → when first enqueued (µs) | — |
 * | `vb:ready` | set | campaigns with a backlog that may send (or must be swept) now | — |
 * | `vb:sleep` | zset | campaign → when to look at it again (paused, scheduled) | — |
 * | `vb:timing` / `vb:gate` | hash | campaign → timing JSON / its gate `rank:weight:rate:from:until` | — |
 * | `vb:expires` / `vb:control` | hash | campaign → deadline ms / `paused` or `cancelled` | — |
 * | `vb:fair` / `vb:crate` | hash | fair-share tags / campaign-rate token buckets | — |
 * | `vb:jobopts` | hash | campaign → BullMQ job opts of its packages (attempts, backoff) | — |
 * | `vb:pkg` | hash | package id → `<campaign>\t<id>,<id>,…`, the ids it still holds | ~10 B while in one |
 * | `vb:pkgs` | zset | package id → when it was made (ms): the reaper's list | — |
 * | `vb:pkgseq` / `vb:inpkg` | string | last package number / messages in packages now | — |
 * | `vb:c:<c>:pkgs` | set | every package id the campaign had, until it is purged | ~1 B |
 * | `vb:purging` | hash | campaign → when its purge began | — |
 * | `vb:shared` | hash | content hash → campaign-wide fields JSON | — |
 * | `vb:pace`, `vb:track-pace` (+ `:pause`) | string | the rate limiters' next slot, a 212 pause | — |
 * | `vb:track` / `vb:trk` | zset / hash | tracked id → next question / its tracking state | ~40 B while tracked |
 * | `vb:suppressed` | set | phones (E.164) never to be messaged: the queue's suppression list | — (~60–80 B an entry) |
 * | `vb:wh` | hash | the webhook outbox: `cap` (absent: off), `epoch`, `seq` (event calls), `rseq` (requests), `held`, `failed`, `dropped`, `gone` | — |
 * | `vb:wh:new` | list | events not yet taken by a sender, JSON, oldest first | ~140 B an event while held (BENCHMARKS.md 11c) |
 * | `vb:wh:ev` / `vb:wh:due` | hash / zset | request id → its events (a JSON array) / when it is due (a lease, or a retry), ms | — |
 * | `vb:wh:try` / `vb:wh:dead` | hash / zset | request id → `tries:firstFailure:lastError` / when it was given up | — |
 * | `vb:c:<c>~sms:…`, `vb:bl:<c>~sms` | — | campaign `<c>`'s SMS fallbacks, a campaign of their own (src/fallback.ts): ids 10^15 + the message's, records in `vb:msg`/`vb:done` | ~670 B an ended SMS (BENCHMARKS.md 12d) |
 * | `vb:probe` | string | a worker's write probe while Redis is out of memory (expires in 1 s) | — |
 *
 * The dispatcher's script builds the per-campaign keys (`vb:bl:<c>`, `vb:c:<c>:…`) of campaigns it
 * only learns inside the call, with the spelling below; so does the tracking record script for
 * the counts and timelines of the campaigns in one answer. No key of BullMQ's is spelled here or anywhere of
 * ours: a package becomes a BullMQ job through `Queue.addBulk`, and is read, moved and removed
 * through BullMQ's public API only.
 */

/** Package ids, which are their BullMQ job ids: `p<n>` (BullMQ refuses all-digit job ids). */
export const PACKAGE_ID = /^p[1-9]\d{0,15}$/;

export class QueueKeys {
  /** @param base the queue's prefix with its trailing colon, `bull:viber:` (`queue.toKey('')`). */
  constructor(readonly base: string) {}

  get queued(): string {
    return `${this.base}vb:msg`;
  }
  get done(): string {
    return `${this.base}vb:done`;
  }
  get jobOpts(): string {
    return `${this.base}vb:jobopts`;
  }
  get campaigns(): string {
    return `${this.base}vb:campaigns`;
  }
  get ready(): string {
    return `${this.base}vb:ready`;
  }
  get sleep(): string {
    return `${this.base}vb:sleep`;
  }
  get timing(): string {
    return `${this.base}vb:timing`;
  }
  get gate(): string {
    return `${this.base}vb:gate`;
  }
  get deadlines(): string {
    return `${this.base}vb:expires`;
  }
  get control(): string {
    return `${this.base}vb:control`;
  }
  get fair(): string {
    return `${this.base}vb:fair`;
  }
  get campaignRate(): string {
    return `${this.base}vb:crate`;
  }
  get purging(): string {
    return `${this.base}vb:purging`;
  }
  get shared(): string {
    return `${this.base}vb:shared`;
  }
  get sendPace(): string {
    return `${this.base}vb:pace`;
  }
  get memoryProbe(): string {
    return `${this.base}vb:probe`;
  }
  get trackPace(): string {
    return `${this.base}vb:track-pace`;
  }
  get track(): string {
    return `${this.base}vb:track`;
  }
  get suppressed(): string {
    return `${this.base}vb:suppressed`;
  }
  get webhook(): string {
    return `${this.base}vb:wh`;
  }
  get webhookNew(): string {
    return `${this.base}vb:wh:new`;
  }
  get webhookDue(): string {
    return `${this.base}vb:wh:due`;
  }
  get webhookEvents(): string {
    return `${this.base}vb:wh:ev`;
  }
  get webhookTries(): string {
    return `${this.base}vb:wh:try`;
  }
  get webhookDead(): string {
    return `${this.base}vb:wh:dead`;
  }
  /** What a script that writes webhook events takes, in order (includes/outbox.lua). */
  get outbox(): [config: string, fresh: string] {
    return [this.webhook, this.webhookNew];
  }
  get trackInfo(): string {
    return `${this.base}vb:trk`;
  }
  state(campaign: string): string {
    return `${this.base}vb:c:${campaign}:state`;
  }
  counts(campaign: string): string {
    return `${this.base}vb:c:${campaign}:counts`;
  }
  timeline(campaign: string): string {
    return `${this.base}vb:c:${campaign}:tl`;
  }
  backlog(campaign: string): string {
    return `${this.base}vb:bl:${campaign}`;
  }
  get packages(): string {
    return `${this.base}vb:pkg`;
  }
  get packageList(): string {
    return `${this.base}vb:pkgs`;
  }
  get packageSeq(): string {
    return `${this.base}vb:pkgseq`;
  }
  get inPackages(): string {
    return `${this.base}vb:inpkg`;
  }
  campaignPackages(campaign: string): string {
    return `${this.base}vb:c:${campaign}:pkgs`;
  }
}

/** A rate limiter's pause key beside its slot key. */
export const pauseKeyOf = (paceKey: string): string => `${paceKey}:pause`;
