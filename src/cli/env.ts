/** The CLI's environment variables, read in one place; errors name the variable. */
import { InvalidOptionError } from '../errors.js';
import { DEFAULT_REDIS_URL } from '../redis.js';

export interface CliEnv {
  /** A connection string (src/redis.ts): redis://, redis-cluster:// or redis-sentinel://. */
  redisUrl: string;
  queueName: string;
  gatewayUrl: string;
  apiKey: string | undefined;
  logLevel: string;
  /** WEBHOOK_URL and WEBHOOK_SECRET: the worker's webhook endpoint and signing secret. */
  webhookUrl: string | undefined;
  webhookSecret: string | undefined;
}

/**
 * Which Redis: REDIS_CLUSTER_NODES (host:port,… seed nodes of a Redis Cluster; REDIS_URL is then
 * ignored), else REDIS_SENTINELS (host:port,…) with REDIS_SENTINEL_NAME, else REDIS_URL.
 * REDIS_USERNAME and REDIS_PASSWORD authenticate to cluster nodes, and to Sentinel and its primary.
 */
function redisConnection(env: NodeJS.ProcessEnv): string {
  const user = env['REDIS_USERNAME'] ?? '';
  const pass = env['REDIS_PASSWORD'];
  const auth =
    user || pass ? `${encodeURIComponent(user)}${pass ? `:${encodeURIComponent(pass)}` : ''}@` : '';
  const nodes = env['REDIS_CLUSTER_NODES']?.trim();
  if (nodes) return `redis-cluster://${auth}${nodes}`;
  const sentinels = env['REDIS_SENTINELS']?.trim();
  if (sentinels) {
    const name = env['REDIS_SENTINEL_NAME']?.trim();
    if (!name) {
      throw new InvalidOptionError(
        'REDIS_SENTINELS is set but REDIS_SENTINEL_NAME is not: name the primary Sentinel watches',
      );
    }
    return `redis-sentinel://${auth}${sentinels}/${name}`;
  }
  const url = env['REDIS_URL'] || DEFAULT_REDIS_URL;
  if (!/^rediss?:\/\//.test(url)) {
    throw new InvalidOptionError(
      `REDIS_URL must start with redis:// or rediss:// (got ${JSON.stringify(url.slice(0, 40))})`,
    );
  }
  return url;
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): CliEnv {
  return {
    redisUrl: redisConnection(env),
    queueName: env['VIBER_QUEUE'] || 'viber',
    gatewayUrl: env['ALPHASMS_URL'] || 'https://alphasms.ua/api/xml.php',
    apiKey: env['ALPHASMS_API_KEY'] || undefined,
    logLevel: env['LOG_LEVEL'] || 'info',
    webhookUrl: env['WEBHOOK_URL'] || undefined,
    webhookSecret: env['WEBHOOK_SECRET'] || undefined,
  };
}

export function requireApiKey(env: CliEnv): string {
  if (!env.apiKey) {
    throw new InvalidOptionError(
      'ALPHASMS_API_KEY is not set: this command needs the gateway API key',
    );
  }
  return env.apiKey;
}
