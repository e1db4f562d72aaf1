/** The CLI's environment variables, read in one place; errors name the variable. */
import { InvalidOptionError } from '../errors.js';
import { DEFAULT_REDIS_URL } from '../redis.js';

export interface CliEnv {
  redisUrl: string;
  queueName: string;
  gatewayUrl: string;
  apiKey: string | undefined;
  logLevel: string;
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): CliEnv {
  const redisUrl = env['REDIS_URL'] || DEFAULT_REDIS_URL;
  if (!/^rediss?:\/\//.test(redisUrl)) {
    throw new InvalidOptionError(
      `REDIS_URL must start with redis:// or rediss:// (got ${JSON.stringify(redisUrl.slice(0, 40))})`,
    );
  }
  return {
    redisUrl,
    queueName: env['VIBER_QUEUE'] || 'viber',
    gatewayUrl: env['ALPHASMS_URL'] || 'https://alphasms.ua/api/xml.php',
    apiKey: env['ALPHASMS_API_KEY'] || undefined,
    logLevel: env['LOG_LEVEL'] || 'info',
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
