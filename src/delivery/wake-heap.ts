/**
 * When lanes come due: a binary min-heap of (time, lane key). The dispatcher pushes each retry it
 * schedules (and what its look for lanes finds due soon) and pops what has come due, so every
 * retry wakes it on time however many share a lane.
 */
export class WakeHeap {
  private readonly at: number[] = [];
  private readonly keys: string[] = [];

  get size(): number {
    return this.at.length;
  }

  /** The earliest time, or null when empty. */
  peek(): number | null {
    return this.at.length > 0 ? this.at[0]! : null;
  }

  push(at: number, key: string): void {
    this.at.push(at);
    this.keys.push(key);
    let i = this.at.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.at[parent]! <= at) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes and returns the keys of every entry due at or before `now`. */
  popDue(now: number): string[] {
    const out: string[] = [];
    while (this.at.length > 0 && this.at[0]! <= now) {
      out.push(this.keys[0]!);
      const lastAt = this.at.pop()!;
      const lastKey = this.keys.pop()!;
      if (this.at.length === 0) break;
      this.at[0] = lastAt;
      this.keys[0] = lastKey;
      this.siftDown(0);
    }
    return out;
  }

  private siftDown(i: number): void {
    const n = this.at.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.at[l]! < this.at[m]!) m = l;
      if (r < n && this.at[r]! < this.at[m]!) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(i: number, j: number): void {
    [this.at[i], this.at[j]] = [this.at[j]!, this.at[i]!];
    [this.keys[i], this.keys[j]] = [this.keys[j]!, this.keys[i]!];
  }
}
