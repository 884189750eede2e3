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
  /** The commits under way (at most maxInFlight). */
  private readonly running = new Set<Promise<void>>();
  /** Items in the commits under way. */
  private committing = 0;

  /**
   * `maxInFlight` commits may run at once (default one): what comes while they all run waits and
   * goes into the next one together. More than one only where the store orders them itself
   * (PostgreSQL: each commit locks its accounts first, in id order).
   */
  constructor(
    private readonly commit: (items: T[]) => R[] | Promise<R[]>,
    private readonly maxItems = 2000,
    private readonly maxInFlight = 1,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Items waiting for a commit or in those under way: how far callers are behind the store. */
  get depth(): number {
    return this.pending.length + this.committing;
  }

  /** Settles once everything added so far is committed (or failed). */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.scheduled || this.running.size > 0) {
      await Promise.allSettled([...this.running]);
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Starts a commit of everything waiting, unless maxInFlight are under way (the first to end starts it). */
  private flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0 || this.running.size >= this.maxInFlight) return;
    const waiting = this.pending;
    this.pending = [];
    this.committing += waiting.length;
    const run = (async () => {
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
    })();
    this.running.add(run);
    void run.finally(() => {
      this.running.delete(run);
      // what came meanwhile goes at once, all of it in one commit
      this.flush();
    });
  }
}
