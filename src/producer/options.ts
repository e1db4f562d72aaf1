import { InvalidOptionError } from '../errors.js';
import { DEFAULT_REDIS_URL, queuePrefix, type RedisConnection } from '../redis.js';
import {
  assertQueueName,
  checkKnownKeys,
  intInRange,
  optionKeys,
  stripUndefined,
} from '../options.js';
import { isCountry } from './phone.js';
import { SMS_MAX_SEGMENTS } from '../fallback.js';
import { DEFAULT_RULES, type ValidationRules } from './validate.js';

/** Options of a producer (library: `new Producer(opts)`; CLI: `viber-bulk enqueue`). */
export interface ProducerOptions {
  /**
   * Redis: a URL, or an ioredis client you own (it is not closed by `close()`).
   * Producers fail fast when Redis is down.
   * @defaultValue `redis://127.0.0.1:6379`
   */
  connection?: RedisConnection;
  /**
   * The BullMQ queue the workers read.
   * @defaultValue `viber`
   */
  queueName?: string;
  /**
   * BullMQ key prefix (default `bull`; in a Redis Cluster `bull:{<queueName>}`, and one given
   * must carry a `{hash tag}`).
   * @defaultValue `bull`
   */
  prefix?: string;
  /**
   * Messages validated, claimed and added per Redis round trip.
   * @defaultValue 1000
   */
  chunkSize?: number;
  /**
   * Tries per message for transient failures (gateway down, timeouts); permanent
   * gateway codes fail at once, throttling and account problems use none. Like `backoffMs`, it
   * belongs to the campaign: each enqueue stores its producer's value for the campaign, and
   * messages get the campaign's value when they are released.
   * @defaultValue 8
   */
  attempts?: number;
  /**
   * First retry delay in ms; it doubles each attempt (BullMQ exponential backoff, with jitter).
   * Per campaign, as `attempts`.
   * @defaultValue 5000
   */
  backoffMs?: number;
  /** Validation limits. */
  limits?: Partial<Pick<ValidationRules, 'maxTextLength' | 'smsMaxSegments'>>;
  /**
   * The country of phone numbers written without `+` and a country code (`097 123 45 67`): ISO
   * 3166-1 alpha-2. Every number is stored and sent in international form (`+380971234567`).
   * @defaultValue `UA`
   */
  country?: string;
  /**
   * Rejected rows kept in detail in the result (all are counted).
   * @defaultValue 10000
   */
  maxReportedRejects?: number;
  /**
   * Replicas that must hold each chunk before it counts as enqueued (Redis `WAIT`), so that an
   * acknowledged enqueue survives a failover. `auto`: one when the Redis we write to has a
   * replica connected, else none. Not used on a Redis Cluster (WAIT is per node).
   * @defaultValue `auto`
   */
  waitReplicas?: number | 'auto';
  /**
   * How long a chunk waits for its replica, ms; past it the enqueue fails (REDIS_UNAVAILABLE)
   * saying how far it got, and running the same input again finishes it.
   * @defaultValue 5000
   */
  waitReplicasTimeoutMs?: number;
}

export type ResolvedProducerOptions = Required<Omit<ProducerOptions, 'limits' | 'country'>> & {
  /** Everything a message is validated against (limits and country). */
  limits: Required<ValidationRules>;
};

export const PRODUCER_DEFAULTS = {
  connection: DEFAULT_REDIS_URL,
  queueName: 'viber',
  chunkSize: 1000,
  attempts: 8,
  backoffMs: 5000,
  maxReportedRejects: 10_000,
  country: 'UA',
  waitReplicas: 'auto',
  waitReplicasTimeoutMs: 5000,
} as const;

const KNOWN = optionKeys<ProducerOptions>({
  connection: true,
  queueName: true,
  prefix: true,
  chunkSize: true,
  attempts: true,
  backoffMs: true,
  limits: true,
  maxReportedRejects: true,
  country: true,
  waitReplicas: true,
  waitReplicasTimeoutMs: true,
});

export function resolveProducerOptions(opts: ProducerOptions = {}): ResolvedProducerOptions {
  checkKnownKeys('producer', opts, KNOWN);
  if (opts.limits !== undefined)
    checkKnownKeys('producer limits', opts.limits, ['maxTextLength', 'smsMaxSegments']);
  const o = { ...PRODUCER_DEFAULTS, ...stripUndefined(opts) };
  const country = o.country.toUpperCase();
  if (!isCountry(country)) {
    throw new InvalidOptionError(
      `country must be a two-letter ISO 3166-1 code such as UA or PL (got ${JSON.stringify(o.country)})`,
    );
  }
  return {
    connection: o.connection,
    queueName: assertQueueName(o.queueName),
    prefix: queuePrefix(o.connection, assertQueueName(o.queueName), opts.prefix),
    chunkSize: intInRange('chunkSize', o.chunkSize, 1, 100_000),
    attempts: intInRange('attempts', o.attempts, 1, 1000),
    backoffMs: intInRange('backoffMs', o.backoffMs, 0, 86_400_000),
    maxReportedRejects: intInRange('maxReportedRejects', o.maxReportedRejects, 0, 10_000_000),
    waitReplicas:
      o.waitReplicas === 'auto' ? 'auto' : intInRange('waitReplicas', o.waitReplicas, 0, 100),
    waitReplicasTimeoutMs: intInRange('waitReplicasTimeoutMs', o.waitReplicasTimeoutMs, 1, 600_000),
    limits: {
      maxTextLength: intInRange(
        'limits.maxTextLength',
        opts.limits?.maxTextLength ?? DEFAULT_RULES.maxTextLength,
        1,
        100_000,
      ),
      smsMaxSegments: intInRange(
        'limits.smsMaxSegments',
        opts.limits?.smsMaxSegments ?? SMS_MAX_SEGMENTS,
        1,
        100,
      ),
      country,
    },
  };
}
