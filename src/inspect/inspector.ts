/**
 * Reading campaigns back: counts (O(1), from the campaign store), one message's result, and every
 * message's result streamed a page at a time (HSCAN of the campaign's states + one pipelined HMGET
 * of the jobs per page), so that exporting a million-message campaign holds one page in memory.
 */
import { assertQueueName, checkKnownKeys, optionKeys } from '../options.js';
import { decodeState, type StateName } from '../campaign/state.js';
import type { CampaignCounts } from '../campaign/counts.js';
import { assertCampaignName, CampaignStore } from '../campaign/store.js';
import type { SendJobData } from '../job.js';
import { readFinished } from '../campaign/records.js';

import {
  closeRedis,
  DEFAULT_REDIS_URL,
  openRedis,
  queuePrefix,
  type OwnedRedis,
  type RedisClient,
  type RedisConnection,
} from '../redis.js';
import { codeName } from '../xml/codes.js';
import { FALLBACK_ID_BASE, fallbackCampaign, fallbackId, viberIdOf } from '../fallback.js';
import type { QueueKeys } from '../keys.js';

export interface InspectorOptions {
  /** @defaultValue `redis://127.0.0.1:6379` */
  connection?: RedisConnection;
  /** @defaultValue `viber` */
  queueName?: string;
  /** @defaultValue `bull` */
  prefix?: string;
}

/** One message's outcome, as `results` exports it. */
const KNOWN = optionKeys<InspectorOptions>({ connection: true, queueName: true, prefix: true });

export interface MessageResult {
  id: number;
  campaign: string;
  phone: string | null;
  state: StateName;
  msgId: number | null;
  statusCode: number | null;
  status: string | null;
  attempts: number;
  error: string | null;
  /** Latest delivery code from `<status>` (102, 116, 105…), null before one came. */
  deliveryCode: number | null;
  /** Its name (DELIVERED, READ, UNDELIVERABLE…), null likewise. */
  delivery: string | null;
  /** When it was delivered, ISO; null if it was not (yet). */
  deliveredAt: string | null;
  /** When it was read, ISO, as the gateway dated the READ; null if unread or undated. */
  readAt: string | null;
  /** Its SMS fallback (src/fallback.ts), once Viber failed and one was made; else null. */
  sms: SmsResult | null;
}

/** A message's SMS fallback: how its send went, and its delivery. */
export interface SmsResult {
  /** The gateway's id of the SMS; null until it is accepted. */
  msgId: number | null;
  /** waiting, paused, completed (accepted), failed, cancelled, expired or suppressed. */
  state: StateName;
  /** The gateway's code for the send (1 when accepted), null before it answered. */
  statusCode: number | null;
  /** Why it was not sent or not accepted. */
  error: string | null;
  /** Latest delivery code of the SMS, and its name; null before one came. */
  deliveryCode: number | null;
  delivery: string | null;
  deliveredAt: string | null;
}

/** A fallback's result from its state and finished record; null when none was made. */
function smsResult(
  raw: string | null | undefined,
  done: string | null | undefined,
): SmsResult | null {
  if (!raw) return null;
  const { state, code } = decodeState(raw);
  const record = readFinished(done);
  return {
    msgId: record?.result?.msgId ?? null,
    state,
    statusCode: code ?? null,
    error: state === 'completed' ? null : (record?.failed?.reason ?? null),
    deliveryCode: record?.delivery?.code ?? null,
    delivery: record?.delivery?.name ?? null,
    deliveredAt: record?.delivery?.deliveredAt ?? null,
  };
}

function parseJson<T>(s: string | null | undefined): T | undefined {
  if (!s) return undefined;
  try {
    return JSON.parse(s) as T;
  } catch {
    return undefined;
  }
}

export class Inspector {
  private readonly ready: Promise<{ redis: OwnedRedis; store: CampaignStore }>;
  private closing: Promise<void> | undefined;

  constructor(opts: InspectorOptions = {}) {
    checkKnownKeys('inspector', opts, KNOWN);
    const queueName = assertQueueName(opts.queueName ?? 'viber');
    const prefix = queuePrefix(opts.connection ?? DEFAULT_REDIS_URL, queueName, opts.prefix);
    this.ready = (async () => {
      const redis = await openRedis(opts.connection ?? DEFAULT_REDIS_URL, 'producer');
      return { redis, store: new CampaignStore(redis.client, `${prefix}:${queueName}:`) };
    })();
    this.ready.catch(() => {});
  }

  /** Its connection and the queue's keys, for readers beside it (the webhook outbox). */
  async queue(): Promise<{ redis: RedisClient; keys: QueueKeys }> {
    const { redis, store } = await this.ready;
    return { redis: redis.client, keys: store.keys };
  }

  /** Counts by state and by status code, O(1). */
  async counts(campaign: string): Promise<CampaignCounts> {
    assertCampaignName(campaign);
    return (await this.ready).store.counts(campaign);
  }

  /** Known campaigns with their counts, oldest first. */
  async campaigns(): Promise<CampaignCounts[]> {
    const { store } = await this.ready;
    return Promise.all((await store.campaigns()).map((c) => store.counts(c)));
  }

  /**
   * One message's result by its id, or undefined if it was never enqueued. An SMS fallback's id
   * (10^15 + the message's, src/fallback.ts) gives the message it fell back for, its `sms` set.
   */
  async result(id: number): Promise<MessageResult | undefined> {
    const { store } = await this.ready;
    if (id >= FALLBACK_ID_BASE) id = viberIdOf(id);
    const campaign = await store.campaignOf(id);
    return campaign === undefined ? undefined : this.message(campaign, id);
  }

  /** One message of this campaign by its id, or undefined if the campaign has no such message. */
  async message(campaign: string, id: number): Promise<MessageResult | undefined> {
    assertCampaignName(campaign);
    const { store } = await this.ready;
    const raw = await store.stateOf(campaign, id);
    if (!raw) return undefined;
    const [r] = await this.resultsFor(campaign, [[id, raw]]);
    return r;
  }

  /** Every message of a campaign, a page at a time; order is Redis's, not the input's. */
  async *results(campaign: string): AsyncGenerator<MessageResult> {
    assertCampaignName(campaign);
    const { store } = await this.ready;
    // HSCAN may return an entry twice while the hash is rehashed: each id is written once.
    const seen = new Set<number>();
    for await (const page of store.scanStates(campaign)) {
      const fresh = page.filter(([id]) => !seen.has(id));
      for (const [id] of fresh) seen.add(id);
      if (fresh.length > 0) yield* await this.resultsFor(campaign, fresh);
    }
  }

  private async resultsFor(
    campaign: string,
    page: Array<[number, string]>,
  ): Promise<MessageResult[]> {
    const { redis, store } = await this.ready;
    const keys = store.keys;
    const pipe = redis.client.pipeline();
    // A message that ended has its finished record; until then its data is in the queued hash.
    const fields = page.map(([id]) => String(id));
    pipe.hmget(keys.done, ...fields);
    pipe.hmget(keys.queued, ...fields);
    // Their SMS fallbacks, where any was made: state, then finished record.
    const smsFields = page.map(([id]) => String(fallbackId(id)));
    pipe.hmget(keys.state(fallbackCampaign(campaign)), ...smsFields);
    pipe.hmget(keys.done, ...smsFields);
    const rows = (await pipe.exec()) ?? [];
    const done = (rows[0]?.[1] ?? []) as Array<string | null>;
    const queued = (rows[1]?.[1] ?? []) as Array<string | null>;
    const smsStates = (rows[2]?.[1] ?? []) as Array<string | null>;
    const smsDone = (rows[3]?.[1] ?? []) as Array<string | null>;
    return page.map(([id, raw], i) => {
      const record = readFinished(done[i]);
      const { state, code } = decodeState(raw);
      const job = record ?? parseJson<SendJobData>(queued[i]);
      const result = record?.result;
      return {
        id,
        campaign,
        phone: job?.message.phone ?? null,
        state,
        msgId: result?.msgId ?? null,
        statusCode: code ?? null,
        status: code === undefined ? null : codeName('message', code),
        attempts: result?.attempts ?? record?.failed?.attempts ?? 0,
        error: state === 'completed' ? null : (record?.failed?.reason ?? null),
        deliveryCode: job?.delivery?.code ?? null,
        delivery: job?.delivery?.name ?? null,
        deliveredAt: job?.delivery?.deliveredAt ?? null,
        readAt: job?.delivery?.readAt ?? null,
        sms: smsResult(smsStates[i], smsDone[i]),
      };
    });
  }

  /** Closes the connection it opened (not one you passed in). Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        const { redis } = await this.ready;
        if (redis.owned) await closeRedis(redis.client);
      } catch {
        // never connected
      }
    })();
    return this.closing;
  }
}
