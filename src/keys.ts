/**
 * Every Redis key of ours, spelled in one place (BullMQ's QueueKeys). All live under the queue's
 * prefix, `<prefix>:<queue>:` — `bull:viber:` by default, `bull:{viber}:` on a Cluster, so that
 * every key of a queue, BullMQ's and ours, shares one hash slot and any script may touch them all.
 *
 * | key | type | holds | per message |
 * |---|---|---|---|
 * | `vb:msg` | hash | id → the message's job data JSON, from enqueue until it ends | ~150–300 B while not ended |
 * | `vb:done` | hash | id → finished record: job data + `result` or `failed`, then `delivery` | ~300–550 B once ended |
 * | `vb:c:<c>:state` | hash | id → state letter (campaign/state.ts) | ~30 B |
 * | `vb:c:<c>:counts` | hash | counts by state, code, delivery; `finishedAt` | — |
 * | `vb:bl:<c>` | list | ids not yet released, in order | ~10 B while queued |
 * | `vb:campaigns` | zset | campaign → when first enqueued (µs) | — |
 * | `vb:ready` | set | campaigns with a backlog that may send (or must be swept) now | — |
 * | `vb:sleep` | zset | campaign → when to look at it again (paused, scheduled) | — |
 * | `vb:timing` / `vb:gate` | hash | campaign → timing JSON / its gate `rank:weight:rate:from:until` | — |
 * | `vb:expires` / `vb:control` | hash | campaign → deadline ms / `paused` or `cancelled` | — |
 * | `vb:fair` / `vb:crate` | hash | fair-share tags / campaign-rate token buckets | — |
 * | `vb:jobopts` | hash | campaign → BullMQ job opts (attempts, backoff) | — |
 * | `vb:purging` | hash | campaign → when its purge began | — |
 * | `vb:shared` | hash | content hash → campaign-wide fields JSON | — |
 * | `vb:pace`, `vb:track-pace` (+ `:pause`) | string | the rate limiters' next slot, a 212 pause | — |
 * | `vb:track` / `vb:trk` | zset / hash | tracked id → next question / its tracking state | ~40 B while tracked |
 *
 * The dispatcher's script builds the per-campaign keys (`vb:bl:<c>`, `vb:c:<c>:…`) of campaigns it
 * only learns inside the call, with the spelling below; so does the tracking record script for
 * the counts of the campaigns in one answer. BullMQ's own keys appear here only where the dispatcher
 * releases a message into BullMQ's lists (`wait`, `active`, `delayed`, `marker`, `meta`, `m<id>`).
 */

/** Job ids are `m<id>`: BullMQ refuses all-digit job ids and ids containing `:`. */
export const jobIdOf = (id: number): string => `m${id}`;

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
  get trackPace(): string {
    return `${this.base}vb:track-pace`;
  }
  get track(): string {
    return `${this.base}vb:track`;
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
  backlog(campaign: string): string {
    return `${this.base}vb:bl:${campaign}`;
  }
  /** BullMQ's list or set `name` of this queue (wait, active, delayed, marker, meta). */
  bull(name: 'wait' | 'active' | 'delayed' | 'marker' | 'meta'): string {
    return `${this.base}${name}`;
  }
}

/** A rate limiter's pause key beside its slot key. */
export const pauseKeyOf = (paceKey: string): string => `${paceKey}:pause`;
