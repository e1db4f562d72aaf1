import { Writable } from 'node:stream';
import { pino } from 'pino';
import pretty from 'pino-pretty';
import { PRETTY_OPTIONS } from '../src/cli/log.js';
import { createRig, type Rig } from './fixture.js';
import { sampleMessages, waitFor } from './helpers.js';

describe("the CLI's pretty logs", () => {
  let rig: Rig;

  afterEach(async () => {
    await rig.close();
  });

  it('show a batch as one line, its counts on it', async () => {
    rig = await createRig('pretty');
    await rig.producer.enqueue('c', sampleMessages(10, 1));
    let text = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        text += chunk.toString();
        done();
      },
    });
    // pino-pretty itself, as the CLI configures it (uncoloured, to read it here).
    const logger = pino(
      { level: 'info' },
      pretty({ ...PRETTY_OPTIONS, colorize: false, destination: sink, sync: true }),
    );
    await rig.startWorker({ batchSize: 10, logger });
    await waitFor(() => text.includes('batch sent'), 'the batch log line');
    const lines = text.split('\n');
    const at = lines.findIndex((l) => l.includes('batch sent'));
    expect(lines[at]).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: batch sent \{.*"completed":10.*\}$/,
    );
    // The next line is another event (or nothing yet), not a field of this one.
    expect(lines[at + 1] ?? '').not.toMatch(/^\s+"?\w+"?:/);
  });
});
