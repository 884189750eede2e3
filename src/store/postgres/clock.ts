/**
 * Whose clock the PostgreSQL store's shared times are compared on. In production it is the
 * database's: every statement that decides what is due, what is leased, what has expired reads
 * `harepost_now_ms()` (migration 14) — one value per statement — so processes whose clocks
 * disagree still agree on every lease. The `now` a caller passes is then not used for those
 * comparisons (only for what is merely shown, such as updated_at).
 *
 * `caller`: the times the caller passes are used instead (the store's conformance tests drive
 * time by hand with them; never use it with more than one process).
 */
export type PgClock = 'database' | 'caller';

/** The statement's current time: parameter `param` when it is not NULL, the database's clock otherwise. */
export const NOW = (param: string): string => `COALESCE(${param}::bigint, harepost_now_ms())`;

/** The value for a NOW() parameter: NULL (the database's clock) unless the store runs on the caller's. */
export const nowParam = (clock: PgClock, now: number): number | null => (clock === 'caller' ? now : null);

/**
 * Parameters for `${NOW(base)} + offset`, a time the caller gives on its own clock (`at`), kept on
 * the database's: as far from the database's now as `at` is from this process's now (a retry's
 * delay, a session's length). On the caller's clock: `at` itself.
 */
export const fromNow = (clock: PgClock, at: number): { base: number | null; offset: number } =>
  clock === 'caller' ? { base: 0, offset: at } : { base: null, offset: at - Date.now() };

/**
 * A stored time, told to this process on its own clock: as far from now as it is from the
 * database's now (`dbNow`, read in the same statement) — unless the store runs on the caller's clock.
 */
export const onProcessClock = (clock: PgClock, at: number, dbNow: number): number => (clock === 'caller' ? at : Date.now() + (at - dbNow));

/**
 * A claim's rotation cut-off on the statement's clock: `$1` is its now (NULL: the database's) and
 * `$6` how far before it (secretsCutoff): a secret retired by a process whose clock is ahead
 * still signs for the whole overlap, wherever the claim runs.
 */
export const SECRETS_AFTER = `(${NOW('$1')} + $6::bigint)`;
/** `$6` of a claim: the rotation cut-off as an offset from the claim's now. */
export const secretsCutoff = (req: { now: number; secretsRetiredAfter: number }): number => req.secretsRetiredAfter - req.now;
