/**
 * Groups items handed in during one turn of the event loop into a single commit.
 * Each caller's promise settles when the commit holding its item does: nothing is
 * acknowledged before it is durable, and N concurrent callers cost one commit, not N.
 */
export class GroupCommit<T> {
  private pending: Array<{ items: readonly T[]; resolve: () => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly commit: (items: T[]) => Promise<void> | void,
    private readonly maxItems = 5000,
  ) {}

  add(items: readonly T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ items, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  /** Settles once everything added so far is committed (or failed). */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.scheduled) {
      await this.inFlight;
      await new Promise((r) => setImmediate(r));
    }
    await this.inFlight;
  }

  private async flush(): Promise<void> {
    // One commit at a time; items that arrive meanwhile wait for the next one.
    await this.inFlight;
    const waiting = this.pending;
    this.pending = [];
    this.scheduled = false;
    if (waiting.length === 0) return;
    const run = async () => {
      for (let start = 0; start < waiting.length; ) {
        const chunk: typeof waiting = [];
        let count = 0;
        while (start < waiting.length && (count === 0 || count + waiting[start]!.items.length <= this.maxItems)) {
          const w = waiting[start++]!;
          chunk.push(w);
          count += w.items.length;
        }
        try {
          await this.commit(chunk.flatMap((w) => w.items));
          for (const w of chunk) w.resolve();
        } catch (e) {
          for (const w of chunk) w.reject(e);
        }
      }
    };
    this.inFlight = run();
    await this.inFlight;
  }
}
