/**
 * `npm run bench:xml`: what one package costs the XML code, in µs, on both sides of the protocol
 * (no Redis, no HTTP). For a 50-message package (the default batch):
 *   build     the worker's request, by template (xml/build.ts, what ships)
 *   builder   the same request through fast-xml-parser's XMLBuilder, escaping by our escape.ts
 *             (the only way it keeps our guarantees; see BENCHMARKS.md)
 *   request   the sandbox reading that request (sandbox/protocol.ts readRequest)
 *   answer    the worker reading the gateway's answer to it (xml/parse.ts parseSendAnswer)
 * Each is timed over BENCH_XML_N runs (default 5,000) after a warm-up, best of 3.
 */
import { XMLBuilder } from 'fast-xml-parser';
import { answer, readRequest } from '../src/sandbox/protocol.js';
import { buildSendPackage } from '../src/xml/build.js';
import { assertXmlSafe, escapeAttr, escapeText } from '../src/xml/escape.js';
import { parseSendAnswer } from '../src/xml/parse.js';
import type { ViberMessage } from '../src/message.js';
import { message } from './lib.js';

const N = Number(process.env['BENCH_XML_N'] ?? 5_000);
const BATCH = 50;
const messages = Array.from({ length: BATCH }, (_, i) => message(i + 1));
const ids = messages.map((m) => m.id);

// XMLBuilder with its own entity handling off: it would leave CR raw in text and CR, LF and tab
// raw in attributes, which the gateway's parser normalises away. Our escaping keeps them.
const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  processEntities: false,
  format: false,
  suppressEmptyNode: false,
  tagValueProcessor: (_name, value) => escapeText(String(value)),
  attributeValueProcessor: (_name, value) => escapeAttr(String(value)),
});

function buildWithBuilder(apiKey: string, list: readonly ViberMessage[]): string {
  const msg = list.map((m) => {
    for (const [field, value] of Object.entries(m)) {
      if (typeof value === 'string') assertXmlSafe(`message ${m.id} ${field}`, value);
    }
    return {
      '@id': m.id,
      phone: m.phone,
      sender: m.sender,
      type: m.type,
      text: m.text,
      ...(m.type !== 'text' && m.image !== undefined ? { image: m.image } : {}),
      ...(m.type === 'button' ? { button: m.button, url: m.url } : {}),
    };
  });
  return builder.build({
    '?xml': { '@version': '1.0', '@encoding': 'utf-8' },
    package: { '@key': apiKey, 'message-viber': { msg } },
  }) as string;
}

function time(fn: () => unknown): number {
  for (let i = 0; i < Math.min(N, 500); i++) fn();
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e3 / N);
  }
  return best;
}

const request = buildSendPackage('bench-key', messages);
const built = buildWithBuilder('bench-key', messages);
const reply = answer({
  viber: messages.map((m, i) => ({ id: String(m.id), msgId: i + 1, code: 1 })),
});
if (JSON.stringify(readRequest(built)) !== JSON.stringify(readRequest(request))) {
  throw new Error('XMLBuilder and the template disagree on what the package says');
}

const rows: Array<[string, number]> = [
  ['build (template, shipped)', time(() => buildSendPackage('bench-key', messages))],
  ['build (XMLBuilder + our escaping)', time(() => buildWithBuilder('bench-key', messages))],
  ['read request (sandbox)', time(() => readRequest(request))],
  ['read answer (worker)', time(() => parseSendAnswer(reply, ids))],
];
console.log(`XML cost per ${BATCH}-message package (best of 3 × ${N}):`);
for (const [what, us] of rows) console.log(`  ${what.padEnd(36)} ${us.toFixed(1).padStart(7)} µs`);
