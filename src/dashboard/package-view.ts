/**
 * What bull-board shows of a package job: its data names a package, and the job view shows the
 * first messages it holds, whole (their records with the campaign-wide fields merged back).
 * bull-board's formatter is synchronous, so packages are read ahead, every few seconds: the
 * packages in flight are few (about `releaseAhead / batchSize`), and at most SHOWN records of each
 * are read.
 */
import { expand, SharedCache } from '../campaign/shared.js';
import type { PackageJobData, SendJobData } from '../job.js';
import { QueueKeys } from '../keys.js';
import type { RedisClient } from '../redis.js';
import type { ViberMessage } from '../message.js';

const SHOWN = 5;
const MAX_PACKAGES = 500;

export class PackageView {
  private readonly keys: QueueKeys;
  private readonly shared: SharedCache;
  private view = new Map<string, { size: number; messages: string[] }>();

  constructor(
    private readonly redis: RedisClient,
    base: string,
  ) {
    this.keys = new QueueKeys(base);
    this.shared = new SharedCache(redis, base);
  }

  /** Reads the packages in flight and the first messages of each. */
  async refresh(): Promise<void> {
    const next = new Map<string, { size: number; messages: string[] }>();
    let [cursor, seen] = ['0', 0];
    do {
      const [c, flat] = await this.redis.hscan(this.keys.packages, cursor, 'COUNT', 200);
      cursor = c;
      for (let i = 0; i + 1 < flat.length && seen < MAX_PACKAGES; i += 2, seen++) {
        const ids = (flat[i + 1] ?? '').split('\t')[1]?.split(',') ?? [];
        const shown = ids.slice(0, SHOWN);
        const raw = shown.length > 0 ? await this.redis.hmget(this.keys.queued, ...shown) : [];
        const records = raw.flatMap((r) => (r ? [JSON.parse(r) as SendJobData] : []));
        await this.shared.load(records.map((r) => r.shared));
        const messages = records.map((r) => line(expand(r.message, this.shared.get(r.shared))));
        next.set(flat[i] as string, { size: ids.length, messages });
      }
    } while (cursor !== '0' && seen < MAX_PACKAGES);
    this.view = next;
  }

  /** The job data as bull-board shows it. */
  format(data: Partial<PackageJobData> | undefined): unknown {
    const v = data?.package === undefined ? undefined : this.view.get(data.package);
    if (!v) return data;
    const more = v.size - v.messages.length;
    return { ...data, size: v.size, messages: v.messages, ...(more > 0 ? { more } : {}) };
  }
}

/** One message on one line (bull-board's data view folds objects nested this deep). */
function line(m: Partial<ViberMessage>): string {
  return Object.entries(m)
    .map(([k, v]) => `${k}:${String(v)}`)
    .join(' ');
}
