/**
 * Packages: up to a batch of one campaign's message ids, made by the dispatcher's script and sent
 * as one gateway package by the worker that takes its BullMQ job (job id = package id). What a
 * package holds is ours (`vb:pkg`); its job is BullMQ's, reached through BullMQ's public API only.
 *
 *   made (dispatch-13.lua) --job added--> taken (pkgOpen-5.lua: ids and records)
 *   taken --pkgSettle-15.lua--> gone (every id ended, parked or back in its backlog)
 *                          \\--> smaller (ids retried or kept stay, for the job's next attempt)
 *   made, job gone or ended --reaper: pkgGiveBack-4.lua--> gone (ids back in their backlog)
 */
import { defineCommands } from '../commands/index.js';
import type { QueueKeys } from '../keys.js';
import type { RedisClient } from '../redis.js';
import type { HeldLetter } from './state.js';

interface PackageCommands {
  vbPkgOpen(...args: (string | number)[]): Promise<Array<string | null>>;
  vbPkgSettle(...args: (string | number)[]): Promise<number>;
  vbPkgGiveBack(...args: (string | number)[]): Promise<number>;
}

/** What pkgSettle-15.lua does with one message of a package. */
export type PackageOp =
  /** It ended: its finished record is written, it leaves the package. */
  | 'e'
  /** Retried: it stays for the package's next attempt. */
  | 'r'
  /** Kept: it stays, and the package's job goes back to the wait list whole. */
  | 'k'
  /** Back to the front of its campaign's backlog. */
  | 'b'
  /** Parked (back to the backlog, state p) if its campaign is still paused; else as 'b'. */
  | 'p'
  /** It had ended before: it only leaves the package. */
  | 'g';

export interface PackageChange {
  id: number;
  op: PackageOp;
  /** Its new state (campaign/state.ts); ignored for 'g'. */
  state: string;
  /** Its whole finished record, JSON, for 'e'. */
  record?: string;
  /** For 'e': what its webhook event says beside its type (records.ts endEventMembers). */
  event?: string;
}

/** A package as its worker opens it. */
export interface OpenedPackage {
  campaign: string;
  /** Why its campaign may not send now, if it may not. */
  held: HeldLetter | undefined;
  /** Its ids, each with its stored record (null once the message ended). */
  messages: Array<{ id: number; record: string | null }>;
}

export class PackageStore {
  private readonly redis: RedisClient & PackageCommands;

  constructor(
    redis: RedisClient,
    readonly keys: QueueKeys,
  ) {
    defineCommands(redis);
    this.redis = redis as RedisClient & PackageCommands;
  }

  /** What a package holds now; undefined when there is no such package (any more). */
  async open(packageId: string): Promise<OpenedPackage | undefined> {
    const k = this.keys;
    const flat = await this.redis.vbPkgOpen(
      k.packages,
      k.queued,
      k.control,
      k.deadlines,
      k.gate,
      packageId,
    );
    if (flat.length < 2) return undefined;
    const messages: OpenedPackage['messages'] = [];
    for (let i = 2; i + 1 < flat.length; i += 2) {
      messages.push({ id: Number(flat[i]), record: flat[i + 1] ?? null });
    }
    const held = flat[1] === '' ? undefined : (flat[1] as HeldLetter);
    return { campaign: String(flat[0]), held, messages };
  }

  /**
   * Settles one attempt at a package in one script call; returns how many ids it still holds.
   * @param tracking with tracking on: when an accepted message is first asked about, and when
   *                 its tracking ends at the latest (ms)
   */
  async settle(
    campaign: string,
    packageId: string,
    changes: readonly PackageChange[],
    now: number,
    tracking: { firstDue: number; until: number } | undefined,
  ): Promise<number> {
    const k = this.keys;
    const args: (string | number)[] = [
      campaign,
      packageId,
      now,
      tracking?.firstDue ?? '',
      tracking?.until ?? '',
    ];
    for (const c of changes) args.push(c.id, c.op, c.state, c.record ?? '', c.event ?? '');
    return this.redis.vbPkgSettle(
      k.state(campaign),
      k.counts(campaign),
      k.track,
      k.trackInfo,
      k.done,
      k.queued,
      k.packages,
      k.packageList,
      k.inPackages,
      k.backlog(campaign),
      k.ready,
      k.control,
      k.timeline(campaign),
      ...k.outbox,
      ...args,
    );
  }

  /** How many of these packages still exist (hold ids). */
  async existing(ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const held = await this.redis.hmget(this.keys.packages, ...ids);
    return held.filter((h) => h !== null).length;
  }

  /** Packages made before `before` (ms) that still hold ids, oldest first, at most `limit`. */
  async madeBefore(before: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.packageList, '-inf', before, 'LIMIT', 0, limit);
  }

  /** Gives a package's ids back to their backlog and removes it; returns how many went back. */
  async giveBack(packageId: string): Promise<number> {
    const k = this.keys;
    return this.redis.vbPkgGiveBack(
      k.packages,
      k.packageList,
      k.inPackages,
      k.ready,
      k.base,
      packageId,
    );
  }
}
