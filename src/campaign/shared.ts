/**
 * Fields every message of an enqueue shares (the campaign-wide sender, type, text, image, button,
 * url given as defaults) are stored once, not a million times: a job keeps its own fields (id,
 * phone, and whatever its row overrode) and names the shared set by the hash of its content
 * (`data.shared`). The set lives in `<prefix>vb:shared` (hash → JSON), never changes once written
 * (content-addressed), so workers and the dashboard cache it for good.
 */
import { createHash } from 'node:crypto';
import type { StoredMessage, ViberMessage } from '../message.js';
import { QueueKeys } from '../keys.js';
import type { RedisClient } from '../redis.js';

/** The fields a shared set may hold. */
const SHAREABLE = [
  'sender',
  'type',
  'text',
  'image',
  'button',
  'url',
  'smsText',
  'smsSender',
] as const;

export type SharedFields = Partial<Pick<ViberMessage, (typeof SHAREABLE)[number]>>;

export interface SharedSet {
  /** Content hash (12 characters of base64url SHA-1): the set's name in Redis. */
  hash: string;
  fields: SharedFields;
  json: string;
}

/** The set a message can share with the campaign's defaults; undefined when there is none. */
export function sharedSet(defaults: Partial<ViberMessage> | undefined): SharedSet | undefined {
  const fields: Record<string, string> = {};
  for (const k of SHAREABLE) {
    const v = defaults?.[k];
    if (typeof v === 'string' && v !== '') fields[k] = v;
  }
  if (Object.keys(fields).length === 0) return undefined;
  const json = JSON.stringify(fields);
  const hash = createHash('sha1').update(json).digest('base64url').slice(0, 12);
  return { hash, fields: fields as SharedFields, json };
}

/** The message without the fields it shares with `set` (equal values only). */
export function compact(
  m: ViberMessage,
  set: SharedSet,
): { message: StoredMessage; shares: boolean } {
  const out: Record<string, unknown> = {};
  let shares = false;
  for (const [k, v] of Object.entries(m)) {
    if ((set.fields as Record<string, unknown>)[k] === v) shares = true;
    else out[k] = v;
  }
  return { message: out as StoredMessage, shares };
}

/** The whole message: the shared set's fields, then the job's own over them. */
export function expand(message: StoredMessage, fields: SharedFields | undefined): ViberMessage {
  return (fields ? { ...fields, ...message } : message) as ViberMessage;
}

/** Shared sets read once per process: they never change. */
export class SharedCache {
  private readonly sets = new Map<string, SharedFields>();

  private readonly key: string;

  /** @param base the queue's prefix (QueueKeys). */
  constructor(
    private readonly redis: RedisClient,
    base: string,
  ) {
    this.key = new QueueKeys(base).shared;
  }

  /** Loads every set these hashes name that is not cached yet (one HMGET). */
  async load(hashes: Iterable<string | undefined>): Promise<void> {
    const missing = [...new Set([...hashes].filter((h): h is string => !!h))].filter(
      (h) => !this.sets.has(h),
    );
    if (missing.length === 0) return;
    const raw = await this.redis.hmget(this.key, ...missing);
    missing.forEach((h, i) => {
      const json = raw[i];
      if (json) this.sets.set(h, JSON.parse(json) as SharedFields);
    });
  }

  /** The set, if loaded (undefined: not in Redis either). */
  get(hash: string | undefined): SharedFields | undefined {
    return hash === undefined ? undefined : this.sets.get(hash);
  }

  /** Every set in Redis (the dashboard's formatter is synchronous: it reads what is here). */
  async loadAll(): Promise<void> {
    for (const [h, json] of Object.entries(await this.redis.hgetall(this.key))) {
      if (!this.sets.has(h)) this.sets.set(h, JSON.parse(json) as SharedFields);
    }
  }
}
