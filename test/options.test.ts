import { startDashboard } from '../src/dashboard/server.js';
import { GatewayClient } from '../src/gateway/client.js';
import { Inspector } from '../src/inspect/inspector.js';
import { closest } from '../src/options.js';
import { Producer } from '../src/producer/producer.js';
import { createWorker } from '../src/worker/send-worker.js';
import { resolveWorkerOptions, type SendWorkerOptions } from '../src/worker/options.js';
import { resolveProducerOptions } from '../src/producer/options.js';
import { resolveGatewayOptions } from '../src/gateway/options.js';

/** The error a call throws or rejects with, as { code, message }. */
async function failure(fn: () => unknown): Promise<{ code: string; message: string }> {
  try {
    await fn();
  } catch (err) {
    return { code: (err as { code: string }).code, message: (err as Error).message };
  }
  throw new Error('expected an error');
}

// Options objects typed loosely on purpose: these are the slips a JavaScript caller makes.
const loose = <T>(o: Record<string, unknown>): T => o as T;

describe('options objects', () => {
  it('take an option given as undefined as its default, for every role', () => {
    // `new Producer({ connection: process.env.REDIS_URL })` with the variable unset.
    expect(
      resolveProducerOptions({
        connection: undefined,
        queueName: undefined,
        chunkSize: undefined,
        attempts: undefined,
        country: undefined,
      }),
    ).toEqual(resolveProducerOptions({}));
    const gateway = { apiKey: 'k', url: undefined, timeoutMs: undefined, retries: undefined };
    expect(resolveGatewayOptions(gateway)).toEqual(resolveGatewayOptions({ apiKey: 'k' }));
    const { logger: _a, ...worker } = resolveWorkerOptions({
      gateway,
      connection: undefined,
      queueName: undefined,
      rate: undefined,
      batchSize: undefined,
      track: undefined,
    });
    const { logger: _b, ...defaults } = resolveWorkerOptions({ gateway: { apiKey: 'k' } });
    expect(worker).toEqual(defaults);
  });

  it('refuses a producer option it does not know, naming it and the closest known one', async () => {
    // The slip that sent a fresh app's messages to the default queue without a word.
    expect(await failure(() => new Producer(loose({ queue: 'q1' })))).toEqual({
      code: 'INVALID_OPTION',
      message: expect.stringMatching(
        /^producer options: unknown option "queue" \(did you mean "queueName"\?\); known options: connection, queueName, /,
      ) as string,
    });
    expect((await failure(() => new Producer(loose({ limits: { maxText: 5 } })))).message).toMatch(
      /^producer limits options: unknown option "maxText" \(did you mean "maxTextLength"\?\)/,
    );
  });

  it('refuses unknown worker and gateway options before touching Redis', async () => {
    const gateway = { apiKey: 'k', url: 'http://127.0.0.1:9/api/xml.php' };
    expect(
      await failure(() =>
        createWorker(
          loose<SendWorkerOptions>({ gateway, batchsize: 10, connection: 'redis://127.0.0.1:9' }),
        ),
      ),
    ).toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining(
        'worker options: unknown option "batchsize" (did you mean "batchSize"?)',
      ) as string,
    });
    expect(
      await failure(() => createWorker({ gateway: loose({ key: 'k', url: gateway.url }) })),
    ).toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining(
        'gateway options: unknown option "key" (did you mean "apiKey"?)',
      ) as string,
    });
    expect(
      (await failure(() => new GatewayClient(loose({ ...gateway, timeout: 5 })))).message,
    ).toContain('unknown option "timeout" (did you mean "timeoutMs"?)');
  });

  it('refuses unknown inspector and dashboard options', async () => {
    expect((await failure(() => new Inspector(loose({ queue: 'q' })))).message).toContain(
      'inspector options: unknown option "queue" (did you mean "queueName"?)',
    );
    expect((await failure(() => startDashboard(loose({ queues: ['q'] })))).message).toContain(
      'dashboard options: unknown option "queues" (did you mean "queueNames"?)',
    );
  });

  it('suggests nothing when no known option is near', () => {
    expect(closest('zzzzzzzz', ['queueName', 'prefix'])).toBeUndefined();
    expect(closest('prefx', ['queueName', 'prefix'])).toBe('prefix');
  });

  it('refuses a country libphonenumber does not know', async () => {
    expect(await failure(() => new Producer({ country: 'XX' }))).toEqual({
      code: 'INVALID_OPTION',
      message: 'country must be a two-letter ISO 3166-1 code such as UA or PL (got "XX")',
    });
  });
});
