/**
 * Groups the items handed in during one turn of the event loop into a single commit.
 * Each caller's promise settles when the commit holding its item does: nothing is
 * acknowledged before it is durable, and N concurrent callers cost one commit, not N.
 * `commit` returns one result per item, in order.
 */
interface Waiting<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export class GroupCommit<T, R = void> {
  private pending: Array<Waiting<T, R>> = [];
  private scheduled = false;
  private inFlight: Promise<void> = Promise.resolve();
  /** Items in the commit under way. */
  private committing = 0;

  constructor(
    private readonly commit: (items: T[]) => R[] | Promise<R[]>,
    private readonly maxItems = 2000,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  /** Items waiting for a commit or in the one under way: how far callers are behind the store. */
  get depth(): number {
    return this.pending.length + this.committing;
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
      this.committing = waiting.length;
      for (let start = 0; start < waiting.length; start += this.maxItems) {
        const chunk = waiting.slice(start, start + this.maxItems);
        try {
          const results = await this.commit(chunk.map((w) => w.item));
          chunk.forEach((w, i) => w.resolve(results[i] as R));
        } catch (e) {
          for (const w of chunk) w.reject(e);
        }
        this.committing -= chunk.length;
      }
    };
    this.inFlight = run();
    await this.inFlight;
  }
}
