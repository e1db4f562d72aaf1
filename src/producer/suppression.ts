/**
 * The queue's suppression list: phones that are never messaged (opted out). One Redis set of
 * E.164 numbers per queue (`vb:suppressed`); a phone is normalised exactly as enqueue normalises
 * it, so `+38 (097) 123-45-67` and `380971234567` are one entry. Enqueue records a suppressed row
 * as `suppressed` and never queues it; a worker checks each package's phones once more (one
 * command a package), so a phone suppressed after enqueue is not sent either.
 */
import type { RedisClient } from '../redis.js';
import type { QueueKeys } from '../keys.js';
import { normalizePhone, type CountryCode } from './phone.js';

/** A phone that could not be read as a mobile number, and why. */
export interface InvalidPhone {
  phone: string;
  rule: string;
}

export interface SuppressionChange {
  /** Numbers the list gained (suppress) or lost (unsuppress). */
  changed: number;
  /** Valid numbers that were already (or were not) on the list. */
  unchanged: number;
  invalid: InvalidPhone[];
}

export interface SuppressionCheck {
  phone: string;
  /** The number as the list keeps it; null when it is not a mobile number. */
  e164: string | null;
  suppressed: boolean;
}

const PAGE = 1000;

export class SuppressionList {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: QueueKeys,
    private readonly country: CountryCode,
  ) {}

  /** Puts phones on the list. */
  async add(phones: readonly string[]): Promise<SuppressionChange> {
    return this.change(phones, (page) => this.redis.sadd(this.keys.suppressed, ...page));
  }

  /** Takes phones off the list. */
  async remove(phones: readonly string[]): Promise<SuppressionChange> {
    return this.change(phones, (page) => this.redis.srem(this.keys.suppressed, ...page));
  }

  /** Whether each phone is on the list. */
  async check(phones: readonly string[]): Promise<SuppressionCheck[]> {
    const read = phones.map((p) => ({ phone: p, n: normalizePhone(p, this.country) }));
    const valid = read.flatMap((r) => (r.n.ok ? [r.n.phone] : []));
    const hits =
      valid.length === 0 ? [] : await this.redis.smismember(this.keys.suppressed, ...valid);
    let i = 0;
    return read.map((r) =>
      r.n.ok
        ? { phone: r.phone, e164: r.n.phone, suppressed: hits[i++] === 1 }
        : { phone: r.phone, e164: null, suppressed: false },
    );
  }

  /** Every number on the list, a page at a time (SSCAN: never the whole list in memory). */
  async *list(): AsyncGenerator<string[]> {
    let cursor = '0';
    do {
      const [next, page] = await this.redis.sscan(this.keys.suppressed, cursor, 'COUNT', PAGE);
      cursor = next;
      if (page.length > 0) yield page;
    } while (cursor !== '0');
  }

  /** How many numbers the list holds. */
  async size(): Promise<number> {
    return this.redis.scard(this.keys.suppressed);
  }

  private async change(
    phones: readonly string[],
    write: (page: string[]) => Promise<number>,
  ): Promise<SuppressionChange> {
    const out: SuppressionChange = { changed: 0, unchanged: 0, invalid: [] };
    const valid = new Set<string>();
    for (const phone of phones) {
      const n = normalizePhone(phone, this.country);
      if (n.ok) valid.add(n.phone);
      else out.invalid.push({ phone, rule: n.rule });
    }
    const all = [...valid];
    for (let i = 0; i < all.length; i += PAGE) {
      const page = all.slice(i, i + PAGE);
      const n = await write(page);
      out.changed += n;
      out.unchanged += page.length - n;
    }
    return out;
  }
}
