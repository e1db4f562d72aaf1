/**
 * The dispatcher: every worker runs one. Enqueued messages wait in their campaign's backlog (ids in
 * a Redis list; their job data in the queued hash, no BullMQ job yet), and one Lua call at a time
 * turns some of them into BullMQ jobs in the wait list — highest priority first, campaigns of one priority sharing by
 * weight, each within its start time, window and own rate — keeping about `ahead` messages
 * waiting or active. Any number of workers may call it: each call is atomic, and they all keep the
 * same target. Nothing here is per campaign in memory: a worker restarted anywhere carries on.
 */
import type { RedisClient } from '../redis.js';
import type { Logger } from 'pino';
import type { CampaignStore } from '../campaign/store.js';
import { QueueKeys } from '../keys.js';
import { unsentReason } from '../campaign/state.js';
import { defineCommands } from '../commands/index.js';
import { SEND_JOB_NAME } from '../job.js';

/** unsentReason() of each end, split around the campaign's name, for the sweep's records. */
const UNSENT_REASONS = (['cancelled', 'expired'] as const).flatMap((how) =>
  unsentReason(how, '\n').split('\n'),
);

export interface DispatcherOptions {
  /** Messages kept released (waiting or active) ahead of the workers. */
  ahead: number;
  /** How often it looks, ms (and at once again after a full release). */
  intervalMs: number;
  /** Messages released per turn of the fair share (its granularity). */
  chunk: number;
  /** Messages of cancelled or expired campaigns handed to workers per call, to end unsent. */
  sweep: number;
}

export interface DispatchReport {
  released: number;
  swept: number;
}

interface DispatchCommand {
  vbDispatch(...args: (string | number)[]): Promise<Array<number | string>>;
}

export class Dispatcher {
  private readonly redis: RedisClient & DispatchCommand;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  private readonly keys: QueueKeys;

  constructor(
    redis: RedisClient,
    private readonly store: CampaignStore,
    private readonly options: DispatcherOptions,
    private readonly logger: Logger,
  ) {
    this.keys = store.keys;
    defineCommands(redis);
    this.redis = redis as RedisClient & DispatchCommand;
  }

  /** One call: releases what may go now; refreshes the gates of campaigns whose window closed. */
  async dispatchOnce(): Promise<DispatchReport> {
    const k = this.keys;
    const out = await this.redis.vbDispatch(
      k.ready,
      k.gate,
      k.control,
      k.deadlines,
      k.fair,
      k.campaignRate,
      k.bull('wait'),
      k.bull('active'),
      k.bull('delayed'),
      k.bull('marker'),
      k.bull('meta'),
      k.queued,
      k.jobOpts,
      k.done,
      k.purging,
      k.sleep,
      k.base,
      this.options.ahead,
      this.options.chunk,
      this.options.sweep,
      ...UNSENT_REASONS,
      SEND_JOB_NAME,
    );
    const [released, swept, ...closed] = out;
    for (const c of closed) {
      const gate = await this.store.schedule.refreshGate(String(c));
      if (gate) {
        this.logger.info(
          { campaign: c, opens: new Date(gate.from).toISOString() },
          'send window closed; the campaign waits for the next one',
        );
      }
    }
    return { released: Number(released), swept: Number(swept) };
  }

  start(): void {
    if (this.timer || this.stopped) return;
    const tick = (): void => {
      this.running = (async () => {
        let again = 0;
        try {
          // A full chunk or more released: workers are draining fast; look again at once
          // (bounded, so a busy queue cannot starve the event loop).
          for (;;) {
            const r = await this.dispatchOnce();
            if (this.stopped || r.released + r.swept < this.options.chunk || ++again > 20) break;
          }
        } catch (err) {
          this.logger.warn({ err: (err as Error).message }, 'dispatch failed; retrying');
        }
      })();
      void this.running.finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.options.intervalMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  /** Stops looking; waits for a call under way. Idempotent. */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
