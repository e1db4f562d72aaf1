/**
 * Groups items into batches of up to `size`, or whatever arrived within `lingerMs` of the first.
 *
 * States and transitions:
 *   empty    --add-->                  filling (linger timer starts)
 *   filling  --add, size reached-->    empty   (batch emitted)
 *   filling  --linger timer fires-->   empty   (partial batch emitted)
 *   any      --drain()-->              draining: what is pending is emitted now, and from then on
 *                                      every add is emitted at once (shutdown must not wait for
 *                                      a batch to fill).
 */
export class Batcher<T> {
  private pending: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private draining = false;

  constructor(
    private readonly size: number,
    private readonly lingerMs: number,
    private readonly emit: (batch: T[]) => void,
  ) {}

  /** Items waiting for their batch. */
  get length(): number {
    return this.pending.length;
  }

  add(item: T): void {
    this.pending.push(item);
    if (this.draining || this.pending.length >= this.size) this.flush();
    else if (this.timer === undefined) this.timer = setTimeout(() => this.flush(), this.lingerMs);
  }

  /** Emits what is pending now and every later item at once. */
  drain(): void {
    this.draining = true;
    this.flush();
  }

  private flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.emit(batch);
  }
}
