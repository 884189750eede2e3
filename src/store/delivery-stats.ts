/**
 * Per-minute counters of what happened to each (account, mode)'s deliveries: accepted, attempts,
 * failed attempts, and the status each attempt left its delivery in (plus deliveries ended as
 * dead letters without an attempt, when their destination is deleted). Written by the same commits
 * that accept deliveries and record attempts — one upsert per (account, mode, minute) per commit,
 * not one per delivery — so the dashboard's last hour is 60 small rows to read, whatever the
 * traffic, instead of a scan of the hour's deliveries and attempts.
 */
export const MINUTE_MS = 60_000;

export interface StatsRow {
  account_id: string;
  mode: string;
  minute: number;
  accepted: number;
  attempts: number;
  failures: number;
  delivered: number;
  retrying: number;
  rejected: number;
  dead_letter: number;
}

export const STATS_COUNTERS = ['accepted', 'attempts', 'failures', 'delivered', 'retrying', 'rejected', 'dead_letter'] as const;

/** Adds up counts into one row per (account, mode, minute). */
export class StatsTally {
  private readonly rows = new Map<string, StatsRow>();

  private row(accountId: string, mode: string, at: number): StatsRow {
    const minute = Math.floor(at / MINUTE_MS);
    const key = `${accountId}\u0000${mode}\u0000${minute}`;
    let r = this.rows.get(key);
    if (!r) {
      r = { account_id: accountId, mode, minute, accepted: 0, attempts: 0, failures: 0, delivered: 0, retrying: 0, rejected: 0, dead_letter: 0 };
      this.rows.set(key, r);
    }
    return r;
  }

  accepted(accountId: string, mode: string, at: number, n: number): void {
    if (n > 0) this.row(accountId, mode, at).accepted += n;
  }

  /** One attempt and the status it left its delivery in. */
  attempt(accountId: string, mode: string, at: number, outcome: string, status: string): void {
    const r = this.row(accountId, mode, at);
    r.attempts++;
    if (outcome !== 'delivered') r.failures++;
    if (status === 'delivered' || status === 'retrying' || status === 'rejected' || status === 'dead_letter') r[status]++;
  }

  /**
   * `n` deliveries ended in `status` without an attempt deciding it (their destination was
   * deleted): counted with the attempts' statuses, so the dashboard's "dead-lettered in the last
   * hour" includes every delivery that became a dead letter in it.
   */
  ended(accountId: string, mode: string, at: number, status: 'dead_letter', n: number): void {
    if (n > 0) this.row(accountId, mode, at)[status] += n;
  }

  get all(): StatsRow[] {
    return [...this.rows.values()];
  }
}

export interface StatsSummary {
  totals: { accepted: number; delivered: number; retrying: number; rejected: number; dead_letter: number };
  /** Attempts and failed attempts per bucket of `bucketMs` from `since` (all buckets, oldest first). */
  buckets: Array<{ attempts: number; failures: number }>;
}

/** Adds up the minute rows of [since, until) into totals and `count` buckets. */
export function summarizeStats(
  rows: ReadonlyArray<Pick<StatsRow, 'minute' | (typeof STATS_COUNTERS)[number]>>,
  since: number,
  bucketMs: number,
  count: number,
): StatsSummary {
  const totals = { accepted: 0, delivered: 0, retrying: 0, rejected: 0, dead_letter: 0 };
  const buckets = Array.from({ length: count }, () => ({ attempts: 0, failures: 0 }));
  for (const r of rows) {
    for (const k of Object.keys(totals) as Array<keyof typeof totals>) totals[k] += Number(r[k]);
    const i = Math.min(count - 1, Math.max(0, Math.floor((Number(r.minute) * MINUTE_MS - since) / bucketMs)));
    buckets[i]!.attempts += Number(r.attempts);
    buckets[i]!.failures += Number(r.failures);
  }
  return { totals, buckets };
}

/** The minutes a window touches: [first, end). */
export function minutesOf(since: number, until: number): { first: number; end: number } {
  return { first: Math.floor(since / MINUTE_MS), end: Math.ceil(until / MINUTE_MS) };
}
