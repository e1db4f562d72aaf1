import { Writable } from 'node:stream';
import { EnqueueProgressView } from '../src/cli/progress.js';

/** A stream that keeps what is written, as a terminal (isTTY) or a pipe. */
function sink(tty: boolean): Writable & { isTTY: boolean; text: () => string } {
  let text = '';
  const w = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return Object.assign(w, { isTTY: tty, text: () => text });
}

const counts = (rows: number) => ({ rows, enqueued: rows - 1, duplicates: 1, rejected: 0 });

describe("enqueue's progress line", () => {
  it('on a terminal, ends redrawn with the final count, however soon after the last redraw', () => {
    const out = sink(true);
    const view = new EnqueueProgressView(0, out);
    view.update(counts(10));
    view.update(counts(5000)); // within 200 ms: not drawn yet
    view.end();
    const frames = out.text().split('\r\x1b[2K').filter(Boolean);
    expect(frames.at(-1)).toMatch(
      /^5000 rows, \d+ rows\/s, 4999 enqueued, 1 duplicate, 0 rejected\n$/,
    );
  });

  it('in a pipe, adds the final count as its last line; nothing when it was never shown', () => {
    const out = sink(false);
    const view = new EnqueueProgressView(0, out);
    view.update(counts(10));
    view.update(counts(700));
    view.end();
    const lines = out.text().trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines.at(-1)).toMatch(/^700 rows, .* 699 enqueued/);

    const quiet = sink(false);
    new EnqueueProgressView(0, quiet).end();
    expect(quiet.text()).toBe('');
  });
});
