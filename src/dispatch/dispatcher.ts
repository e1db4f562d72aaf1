/**
 * The dispatcher: every worker runs one. Enqueued messages wait in their campaign's backlog (ids in
 * a Redis list; their records in the queued hash), and one Lua call at a time moves some of them
 * into packages — highest priority first, campaigns of one priority sharing by weight, each within
 * its start time, window and own rate — keeping about `ahead` messages in packages. Each package
 * made becomes a BullMQ job through `Queue.addBulk` (job id = package id: a repeated add is
 * harmless). Any number of workers may call it: each call is atomic, and they all keep the same
 * target. Nothing here is per campaign in memory: a worker restarted anywhere carries on.
 *
 * Packages of cancelled or expired campaigns (the sweep) get no job: they end here, unsent.
 *
 * It also reaps: a package whose job is gone or ended while it still holds ids (the process died
 * between the script and the add, or BullMQ failed the job outside our processor) gives its ids
 * back to their backlog.
 */
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { RedisClient } from '../redis.js';
import type { MemoryGuard } from '../memory-guard.js';
import type { CampaignStore } from '../campaign/store.js';
import { defineCommands } from '../commands/index.js';
import { SEND_JOB_NAME, type PackageJobData } from '../job.js';
import type { PackageChange } from '../campaign/packages.js';
import { parseStored, unsentRecord } from '../campaign/records.js';
import { state } from '../campaign/state.js';

export interface DispatcherOptions {
  /** Messages kept in packages (waiting or being sent) ahead of the workers. */
  ahead: number;
  /** How often it looks, ms (and at once again after a full call). */
  intervalMs: number;
  /** Messages per package: the worker's batch size. */
  packageSize: number;
  /** Messages of cancelled or expired campaigns packaged per call, to end unsent. */
  sweep: number;
  /** How long a backlog shorter than a package waits for more after its last enqueue, ms. */
  lingerMs: number;
  /** A package this old (ms) whose job is gone or ended is given back by the reaper. */
  reapAfterMs: number;
}

export interface DispatchReport {
  released: number;
  swept: number;
  /** Packages made (and their jobs added). */
  packages: number;
  /** Their ids. */
  made: string[];
}

interface DispatchCommand {
  vbDispatch(...args: (string | number)[]): Promise<Array<number | string>>;
}

type PackageJobs = Parameters<Queue<PackageJobData>['addBulk']>[0];

/** Package jobs whose state means nobody will settle the package any more. */
const ENDED = new Set(['unknown', 'completed', 'failed']);

export class Dispatcher {
  private readonly redis: RedisClient & DispatchCommand;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private lastReap = 0;
  /** Packages made whose add failed: added before anything else on the next call. */
  private unadded: PackageJobs = [];

  constructor(
    redis: RedisClient,
    private readonly store: CampaignStore,
    private readonly queue: Queue<PackageJobData>,
    private readonly options: DispatcherOptions,
    private readonly logger: Logger,
    /** While Redis is out of memory, it waits (and logs nothing: the guard does). */
    private readonly memory?: MemoryGuard,
  ) {
    defineCommands(redis);
    this.redis = redis as RedisClient & DispatchCommand;
  }

  /** One call: packages what may go now; refreshes the gates of campaigns whose window closed. */
  async dispatchOnce(lingerMs = this.options.lingerMs): Promise<DispatchReport> {
    if (this.unadded.length > 0) {
      // A repeated add of a job id BullMQ has is harmless: the job id is the package id.
      await this.queue.addBulk(this.unadded);
      this.unadded = [];
    }
    const k = this.store.keys;
    const out = await this.redis.vbDispatch(
      k.ready,
      k.gate,
      k.control,
      k.deadlines,
      k.fair,
      k.campaignRate,
      k.packages,
      k.packageList,
      k.packageSeq,
      k.inPackages,
      k.jobOpts,
      k.purging,
      k.sleep,
      k.base,
      this.options.ahead,
      this.options.packageSize,
      this.options.sweep,
      lingerMs,
    );
    const released = Number(out[0]);
    const swept = Number(out[1]);
    const nClosed = Number(out[2]);
    const closed = out.slice(3, 3 + nClosed).map(String);
    const jobs: PackageJobs = [];
    const sweeps: Array<[string, string]> = [];
    for (let i = 3 + nClosed; i + 2 < out.length; i += 3) {
      const id = String(out[i]);
      const campaign = String(out[i + 1]);
      if (out[i + 2] === 'sweep') {
        sweeps.push([id, campaign]);
        continue;
      }
      jobs.push({
        name: SEND_JOB_NAME,
        data: { campaign, package: id },
        opts: { ...(JSON.parse(String(out[i + 2])) as object), jobId: id },
      });
    }
    // Made but not added (Redis away, or out of memory): added again on the next call; should
    // this process die first, the reaper gives the packages back.
    if (jobs.length > 0) {
      try {
        await this.queue.addBulk(jobs);
      } catch (err) {
        this.unadded.push(...jobs);
        throw err;
      }
    }
    for (const [id] of sweeps) await this.sweep(id);
    for (const c of closed) {
      const gate = await this.store.schedule.refreshGate(c);
      if (gate) {
        this.logger.info(
          { campaign: c, opens: new Date(gate.from).toISOString() },
          'send window closed; the campaign waits for the next one',
        );
      }
    }
    return { released, swept, packages: jobs.length, made: jobs.map((j) => String(j.opts?.jobId)) };
  }

  /**
   * Ends a swept package's messages unsent, at once and without a job: each gets its record and
   * its state (cancelled, or expired: its campaign's deadline passed), in one settle call. A
   * campaign that may send again by now (its deadline moved) has the package given back.
   */
  private async sweep(id: string): Promise<void> {
    const packages = this.store.packages;
    const opened = await packages.open(id);
    if (!opened) return;
    const how = opened.held === 'e' ? 'expired' : opened.held === 'x' ? 'cancelled' : undefined;
    if (!how) {
      await packages.giveBack(id);
      return;
    }
    const c = opened.campaign;
    const changes: PackageChange[] = opened.messages.map((m) =>
      m.record === null
        ? { id: m.id, op: 'g', state: '' }
        : {
            id: m.id,
            op: 'e',
            state: how === 'cancelled' ? state.cancelled : state.expired,
            record: unsentRecord(
              parseStored(m.record, m.id),
              { campaign: c, id: m.id, package: id },
              how,
              0,
            ),
          },
    );
    await packages.settle(c, id, changes, Date.now(), undefined);
  }

  /**
   * Gives back the ids of packages older than `reapAfterMs` whose job is gone or ended; returns
   * how many ids went back.
   */
  async reap(now = Date.now()): Promise<number> {
    const packages = this.store.packages;
    let back = 0;
    for (const id of await packages.madeBefore(now - this.options.reapAfterMs, 100)) {
      if (!ENDED.has(await this.queue.getJobState(id))) continue;
      const n = await packages.giveBack(id);
      if (n > 0)
        this.logger.warn(
          { package: id, messages: n },
          'package without a live job: its messages are queued again',
        );
      back += n;
    }
    return back;
  }

  start(): void {
    if (this.timer || this.stopped) return;
    const tick = (): void => {
      this.running = (async () => {
        let again = 0;
        if (this.memory?.full) return;
        try {
          // A full package or more made: workers are draining fast; look again at once
          // (bounded, so a busy queue cannot starve the event loop).
          for (;;) {
            const r = await this.dispatchOnce();
            const full = r.released + r.swept >= this.options.packageSize;
            if (this.stopped || !full || ++again > 20) break;
          }
          if (Date.now() - this.lastReap >= Math.min(this.options.reapAfterMs, 10_000)) {
            this.lastReap = Date.now();
            await this.reap();
          }
        } catch (err) {
          if (!this.memory?.saw(err))
            this.logger.warn({ err: (err as Error).message }, 'dispatch failed; retrying');
        }
      })();
      void this.running.finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.options.intervalMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  /**
   * Packages what lingers now (backlogs shorter than a package, however recent their last
   * enqueue): a worker that closes sends those first instead of leaving them to wait. Returns
   * the packages made.
   */
  async flush(): Promise<string[]> {
    await this.close();
    return (await this.dispatchOnce(0)).made;
  }

  /** Stops looking; waits for a call under way. Idempotent. */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
