/** A text progress bar: `[#####-----]`. */
export function bar(done: number, total: number, width = 30): string {
  const filled = total <= 0 ? 0 : Math.min(width, Math.round((done / total) * width));
  return '[' + '#'.repeat(filled) + '-'.repeat(width - filled) + ']';
}

interface Counts {
  rows: number;
  enqueued: number;
  duplicates: number;
  rejected: number;
}

/**
 * Enqueue progress on stderr (stdout keeps the summary and the JSON line): a bar redrawn in place
 * on a terminal — with a percentage when the file size is known — and a plain line every few
 * seconds otherwise. Once progress was shown, its last line is the final count.
 */
export class EnqueueProgressView {
  private readonly started = Date.now();
  private bytes = 0;
  private lastPrint = 0;
  private drawn = false;
  private last: Counts | undefined;
  private printed: Counts | undefined;
  private readonly tty: boolean;

  constructor(
    private readonly size: number,
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
  ) {
    this.tty = out.isTTY === true;
  }

  read(n: number): void {
    this.bytes += n;
  }

  update(c: Counts): void {
    this.last = c;
    const now = Date.now();
    if (now - this.lastPrint < (this.tty ? 200 : 5000)) return;
    this.lastPrint = now;
    this.print(c, now);
  }

  private print(c: Counts, now: number): void {
    this.printed = c;
    const secs = Math.max((now - this.started) / 1000, 0.001);
    const rate = Math.round(c.rows / secs);
    const pct =
      this.size > 0 ? Math.min(100, Math.floor((this.bytes / this.size) * 100)) : undefined;
    const head = pct === undefined ? '' : `${bar(pct, 100)} ${String(pct).padStart(3)}% `;
    const line = `${head}${c.rows} rows, ${rate} rows/s, ${c.enqueued} enqueued, ${c.duplicates} duplicate, ${c.rejected} rejected`;
    if (this.tty) {
      this.out.write(`\r\x1b[2K${line}`);
      this.drawn = true;
    } else {
      this.out.write(line + '\n');
    }
  }

  /** Ends with the final count: the last line redrawn (or added) if it moved since it was shown. */
  end(): void {
    if (this.printed && this.last && this.last !== this.printed) this.print(this.last, Date.now());
    if (this.drawn) this.out.write('\n');
  }
}
