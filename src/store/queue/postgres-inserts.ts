/**
 * The statements of the delivery queue's grouped commit on PostgreSQL (queue/postgres.ts
 * commitInserts), each for all the calls of the commit at once (unnest arrays), inside its
 * transaction: the claims of the calls' idempotency keys (and the earlier answers of the keys
 * already used), then the writes — keys given back, events, deliveries, counters and the NOTIFY —
 * joined into one statement (data-modifying CTEs), so a commit is a few round trips, not one per call.
 */
import { deliveryParams, eventBodyColumns, gateOf } from '../rows.js';
import type { EventRecord, IdempotentResponse, KeyMode, NewDelivery } from '../store.js';
import { NOW, type PgClock } from '../postgres/clock.js';
import type { Querier } from '../postgres/querier.js';

/** One statement: its text numbers its parameters from $1. */
export interface Statement {
  text: string;
  params: unknown[];
}

/**
 * Writes joined into one statement: each but the last as a data-modifying CTE, then `last` (the
 * NOTIFY) or else the last write as the main statement. Each statement's $n are renumbered after
 * the ones before it. All run to completion, in the one snapshot, before the statement returns.
 */
export function joinWrites(writes: readonly Statement[], last: Statement | null): Statement {
  const parts = last ? [...writes, last] : [...writes];
  const params: unknown[] = [];
  const texts = parts.map((s) => {
    const offset = params.length;
    params.push(...s.params);
    return s.text.replace(/\$(\d+)/g, (_, n: string) => {
      if (Number(n) < 1 || Number(n) > s.params.length) throw new Error(`parameter $${n} of ${s.params.length}`);
      return `$${Number(n) + offset}`;
    });
  });
  const main = texts.pop()!;
  if (texts.length === 0) return { text: main, params };
  return { text: `WITH ${texts.map((t, i) => `w${i} AS (${t})`).join(',\n')}\n${main}`, params };
}

/** An idempotency key a call of the commit claims: `window` is when a record older than its own stops counting (fromNow). */
export interface KeyClaim {
  accountId: string;
  mode: KeyMode;
  record: IdempotentResponse;
  /** The record's time as a NOW() parameter (nowParam). */
  at: number | null;
  window: { base: number | null; offset: number } | null;
}

/** The marker for a key claimed: the call goes on. */
export const CLAIMED = Symbol('claimed');

/**
 * Claims keys, each of another (account, mode, key), in one statement, in the given order: a key
 * not recorded, or recorded before its window, is taken (recorded anew); a key used within its
 * window is not, and its earlier answer is then read (a statement of its own, which sees the
 * records that other commits made while this one waited on them). Per claim: CLAIMED or the
 * earlier answer — the very statements of claimKey, for many keys at once.
 */
export async function claimKeys(q: Querier, claims: readonly KeyClaim[]): Promise<Array<typeof CLAIMED | IdempotentResponse>> {
  if (claims.length === 0) return [];
  const col = <T>(f: (c: KeyClaim) => T) => claims.map(f);
  // a conflict is taken over only when the record is older than the claiming call's own window:
  // its cut-off is looked up by the key (each key is in the claims once)
  const claimed = await q(
    `WITH c AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[])
         WITH ORDINALITY AS c(account_id, mode, key, request_hash, status_code, response, at, window_offset, window_base, n))
     INSERT INTO idempotency_keys (account_id, mode, key, request_hash, status_code, response, created_at)
     SELECT account_id, mode, key, request_hash, status_code, response, ${NOW('c.at')} FROM c ORDER BY account_id, mode, key
     ON CONFLICT (account_id, mode, key) DO UPDATE SET request_hash = excluded.request_hash,
       status_code = excluded.status_code, response = excluded.response, created_at = excluded.created_at
     WHERE idempotency_keys.created_at < COALESCE((
       SELECT ${NOW('w.window_base')} + w.window_offset FROM c w
       WHERE w.account_id = excluded.account_id AND w.mode = excluded.mode AND w.key = excluded.key), 0)
     RETURNING account_id, mode, key`,
    [
      col((c) => c.accountId),
      col((c) => c.mode),
      col((c) => c.record.key),
      col((c) => c.record.request_hash),
      col((c) => c.record.status_code),
      col((c) => c.record.response),
      col((c) => c.at),
      col((c) => c.window?.offset ?? null),
      col((c) => c.window?.base ?? null),
    ],
  );
  const id = (a: unknown, m: unknown, k: unknown) => JSON.stringify([a, m, k]);
  const taken = new Set(claimed.map((r) => id(r.account_id, r.mode, r.key)));
  const used = claims.map((c, i) => ({ c, i })).filter(({ c }) => !taken.has(id(c.accountId, c.mode, c.record.key)));
  const out: Array<typeof CLAIMED | IdempotentResponse> = claims.map(() => CLAIMED);
  if (used.length === 0) return out;
  const earlier = await q(
    `SELECT u.n, k.key, k.request_hash, k.status_code, k.response, k.created_at
     FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(account_id, mode, key, n)
     JOIN idempotency_keys k ON k.account_id = u.account_id AND k.mode = u.mode AND k.key = u.key`,
    [used.map(({ c }) => c.accountId), used.map(({ c }) => c.mode), used.map(({ c }) => c.record.key)],
  );
  const byN = new Map(earlier.map(({ n, ...r }) => [Number(n), r as unknown as IdempotentResponse]));
  used.forEach(({ i }, j) => (out[i] = byN.get(j + 1)!)); // as claimKey: the row the conflict locked
  return out;
}

/** One key claimed on its own (claimKeys' statements): a call whose key an earlier call of the same commit had. */
export async function claimKey(q: Querier, claim: KeyClaim): Promise<typeof CLAIMED | IdempotentResponse> {
  const claimed = await q(
    `INSERT INTO idempotency_keys (account_id, mode, key, request_hash, status_code, response, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, ${NOW('$7')})
     ON CONFLICT (account_id, mode, key) DO UPDATE SET request_hash = excluded.request_hash,
       status_code = excluded.status_code, response = excluded.response, created_at = excluded.created_at
     WHERE idempotency_keys.created_at < COALESCE(${NOW('$9')} + $8::bigint, 0)
     RETURNING key`,
    [
      claim.accountId,
      claim.mode,
      claim.record.key,
      claim.record.request_hash,
      claim.record.status_code,
      claim.record.response,
      claim.at,
      claim.window?.offset ?? null,
      claim.window?.base ?? null,
    ],
  );
  if (claimed.length > 0) return CLAIMED;
  const [earlier] = await q(
    `SELECT key, request_hash, status_code, response, created_at FROM idempotency_keys
     WHERE account_id = $1 AND mode = $2 AND key = $3`,
    [claim.accountId, claim.mode, claim.record.key],
  );
  return earlier as unknown as IdempotentResponse;
}

/** Gives back the keys of calls refused (backlog_full): nothing was done under them. */
export function deleteKeys(keys: ReadonlyArray<{ accountId: string; mode: KeyMode; key: string }>): Statement {
  return {
    text: `DELETE FROM idempotency_keys k USING unnest($1::text[], $2::text[], $3::text[]) AS g(account_id, mode, key)
     WHERE k.account_id = g.account_id AND k.mode = g.mode AND k.key = g.key`,
    params: [keys.map((k) => k.accountId), keys.map((k) => k.mode), keys.map((k) => k.key)],
  };
}

/**
 * Inside the delivery-insert transaction, so events and their deliveries commit together; each
 * with the bytes its deliveries send (`payload`), kept here once (rows.ts eventBodyColumns).
 */
export function eventsInsert(events: ReadonlyArray<{ event: EventRecord; payload?: Buffer | null | undefined }>): Statement {
  const stored = events.map(({ event, payload }) => ({ e: event, ...eventBodyColumns(event, payload) }));
  return {
    text: `INSERT INTO events (id, account_id, mode, type, body, payload, idempotency_key, metadata, created_at)
     SELECT id, account_id, mode, type, body, payload, idempotency_key, metadata, created_at
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::text[], $8::text[], $9::bigint[])
       WITH ORDINALITY AS e(id, account_id, mode, type, body, payload, idempotency_key, metadata, created_at, n)
     ORDER BY n`,
    params: [
      stored.map((x) => x.e.id),
      stored.map((x) => x.e.account_id),
      stored.map((x) => x.e.mode),
      stored.map((x) => x.e.type),
      stored.map((x) => x.body),
      stored.map((x) => x.payload),
      stored.map((x) => x.e.idempotency_key),
      stored.map((x) => (x.e.metadata === null ? null : JSON.stringify(x.e.metadata))),
      stored.map((x) => x.e.created_at),
    ],
  };
}

/** All the deliveries of one commit in one statement. */
export function deliveriesInsert(deliveries: readonly NewDelivery[], clock: PgClock): Statement {
  // due now by the database's clock (on the caller's: at its created_at)
  const DUE = 'CASE WHEN $18::boolean THEN harepost_now_ms() ELSE created_at END';
  const rows = deliveries.map(deliveryParams);
  const col = <K extends keyof (typeof rows)[number]>(k: K) => rows.map((r) => r[k]);
  return {
    text: `INSERT INTO deliveries (id, account_id, mode, target, origin, method, headers, body, policy, timeout_ms,
       idempotency_key, metadata, sign, status, created_at, updated_at, next_attempt_at, run_at,
       event_id, event_type, destination_id, gate)
     SELECT id, account_id, mode, target, origin, method, headers, body, policy, timeout_ms,
       idempotency_key, metadata, sign, 'queued', created_at, created_at, ${DUE}, ${DUE},
       event_id, event_type, destination_id, ${gateOf('t.destination_id')}
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[],
       $9::text[], $10::int[], $11::text[], $12::text[], $13::bool[], $14::bigint[], $15::text[], $16::text[], $17::text[])
       WITH ORDINALITY AS t(id, account_id, mode, target, origin, method, headers, body, policy, timeout_ms,
       idempotency_key, metadata, sign, created_at, event_id, event_type, destination_id, n)
     ORDER BY n`,
    params: [
      col('id'),
      col('account_id'),
      col('mode'),
      col('target'),
      col('origin'),
      col('method'),
      col('headers'),
      col('body'),
      col('policy'),
      col('timeout_ms'),
      col('idempotency_key'),
      col('metadata'),
      deliveries.map((d) => d.sign),
      col('created_at'),
      col('event_id'),
      col('event_type'),
      col('destination_id'),
      clock === 'database',
    ],
  };
}
