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
 * seconds otherwise.
 */
export class EnqueueProgressView {
  private readonly started = Date.now();
  private bytes = 0;
  private lastPrint = 0;
  private drawn = false;
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly size: number) {}

  read(n: number): void {
    this.bytes += n;
  }

  update(c: Counts): void {
    const now = Date.now();
    if (now - this.lastPrint < (this.tty ? 200 : 5000)) return;
    this.lastPrint = now;
    this.print(c, now);
  }

  private print(c: Counts, now: number): void {
    const secs = Math.max((now - this.started) / 1000, 0.001);
    const rate = Math.round(c.rows / secs);
    const pct =
      this.size > 0 ? Math.min(100, Math.floor((this.bytes / this.size) * 100)) : undefined;
    const head = pct === undefined ? '' : `${bar(pct, 100)} ${String(pct).padStart(3)}% `;
    const line = `${head}${c.rows} rows, ${rate} rows/s, ${c.enqueued} enqueued, ${c.duplicates} duplicate, ${c.rejected} rejected`;
    if (this.tty) {
      process.stderr.write(`\r\x1b[2K${line}`);
      this.drawn = true;
    } else {
      process.stderr.write(line + '\n');
    }
  }

  end(): void {
    if (this.drawn) process.stderr.write('\n');
  }
}
