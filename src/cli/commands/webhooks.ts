/**
 * `viber-bulk webhooks`: the queue's webhook outbox — how much waits, what was given up (and
 * sending it again), and the switches a 410 or an operator needs.
 */
import type { Command } from 'commander';
import { InvalidOptionError } from '../../errors.js';
import { Inspector } from '../../inspect/inspector.js';
import { eventsOf } from '../../webhook/event.js';
import { Outbox } from '../../webhook/outbox.js';
import { readEnv } from '../env.js';
import { intArg, printable } from '../util.js';

interface Flags {
  failed?: boolean;
  resend?: boolean;
  discard?: boolean;
  enable?: boolean;
  off?: boolean;
  limit: number;
  json?: boolean;
}

const iso = (ms: number | undefined): string | null =>
  ms === undefined ? null : new Date(ms).toISOString();

async function withOutbox<T>(fn: (o: Outbox) => Promise<T>): Promise<T> {
  const env = readEnv();
  const inspector = new Inspector({ connection: env.redisUrl, queueName: env.queueName });
  try {
    const { redis, keys } = await inspector.queue();
    return await fn(new Outbox(redis, keys));
  } finally {
    await inspector.close();
  }
}

async function showFailed(o: Outbox, flags: Flags): Promise<void> {
  // Requests hold up to 1,000 events: enough of them for --limit events.
  const failed = await o.failed(0, flags.limit);
  const rows = failed
    .flatMap((f) =>
      eventsOf(f.body).map((event) => ({
        event,
        tries: f.tries,
        firstFailureAt: iso(f.firstFailureAt),
        lastError: f.lastError ?? null,
        givenUpAt: iso(f.givenUpAt),
      })),
    )
    .slice(0, flags.limit);
  if (flags.json) {
    process.stdout.write(JSON.stringify(rows) + '\n');
    return;
  }
  if (rows.length === 0) process.stdout.write('no webhook events were given up\n');
  for (const r of rows) {
    const e = r.event;
    const what = [
      e.type,
      `campaign=${e.campaign}`,
      e.messageId === undefined ? '' : `message=${e.messageId}`,
      `tries=${r.tries}`,
      `last=${r.lastError ?? '-'}`,
      `id=${e.id}`,
    ].filter((x) => x !== '');
    process.stdout.write(`${r.givenUpAt ?? '-'}  ${printable(what.join(' '))}\n`);
  }
}

export function webhooksCommand(program: Command): void {
  program
    .command('webhooks')
    .description("the queue's webhook outbox: waiting, given up, dropped; resend what was given up")
    .option('--failed', 'list the events given up (after --webhook-retry-for of failures)')
    .option('--resend', 'send the events given up again, with a fresh retry period')
    .option('--discard', 'delete the events given up')
    .option('--enable', 'after a 410 Gone: take the endpoint back (workers resume within seconds)')
    .option('--off', 'stop writing events (a worker with a webhook URL turns it on again)')
    .option('--limit <n>', 'most events --failed lists', intArg(1, 1_000_000), 100)
    .option('--json', 'print JSON')
    .action(async (flags: Flags) => {
      const actions = (['failed', 'resend', 'discard', 'enable', 'off'] as const).filter(
        (a) => flags[a],
      );
      if (actions.length > 1) {
        throw new InvalidOptionError(`choose one of --${actions.join(', --')}`);
      }
      await withOutbox(async (o) => {
        const out = (json: object, text: string) =>
          process.stdout.write(flags.json ? JSON.stringify(json) + '\n' : text + '\n');
        switch (actions[0]) {
          case 'failed':
            return showFailed(o, flags);
          case 'resend': {
            const n = await o.dead('resend');
            return out({ resent: n }, `${n} events are due again`);
          }
          case 'discard': {
            const n = await o.dead('discard');
            return out({ discarded: n }, `${n} events deleted`);
          }
          case 'enable': {
            const was = await o.enable();
            return out(
              { enabled: was },
              was
                ? 'endpoint taken back: workers with a webhook URL resume within seconds'
                : 'the endpoint was not marked gone',
            );
          }
          case 'off':
            await o.turnOff();
            return out({ off: true }, 'events are no longer written (held ones are still sent)');
          default: {
            const s = await o.stats();
            return out(
              s,
              [
                `webhook events: ${s.on ? `on (limit ${s.cap})` : 'off'}`,
                `  queued   ${s.queued}`,
                `  failed   ${s.failed}${s.failed > 0 ? ' (webhooks --failed)' : ''}`,
                `  dropped  ${s.dropped}${s.dropped > 0 ? ' (the outbox was full)' : ''}`,
                ...(s.gone ? [`  gone     ${printable(s.gone)} (webhooks --enable)`] : []),
              ].join('\n'),
            );
          }
        }
      });
    });
}
