/**
 * The two bulk inserts of the delivery queue's grouped commit on PostgreSQL (queue/postgres.ts
 * commitInserts): every event of the commit, then every delivery, each in one statement (unnest
 * arrays), inside the commit's transaction.
 */
import { deliveryParams, eventBodyColumns, gateOf } from '../rows.js';
import type { EventRecord, NewDelivery } from '../store.js';
import type { PgClock } from '../postgres/clock.js';
import type { Querier } from '../postgres/querier.js';

/**
 * Inside the delivery-insert transaction, so events and their deliveries commit together; each
 * with the bytes its deliveries send (`payload`), kept here once (rows.ts eventBodyColumns).
 */
export async function insertEvents(q: Querier, events: ReadonlyArray<{ event: EventRecord; payload?: Buffer | null | undefined }>): Promise<void> {
  const stored = events.map(({ event, payload }) => ({ e: event, ...eventBodyColumns(event, payload) }));
  await q(
    `INSERT INTO events (id, account_id, mode, type, body, payload, idempotency_key, metadata, created_at)
     SELECT id, account_id, mode, type, body, payload, idempotency_key, metadata, created_at
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::text[], $8::text[], $9::bigint[])
       WITH ORDINALITY AS e(id, account_id, mode, type, body, payload, idempotency_key, metadata, created_at, n)
     ORDER BY n`,
    [
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
  );
}

/** All the deliveries of one commit in one statement. */
export async function insertDeliveries(q: Querier, deliveries: readonly NewDelivery[], clock: PgClock): Promise<void> {
  // due now by the database's clock (on the caller's: at its created_at)
  const DUE = 'CASE WHEN $18::boolean THEN harepost_now_ms() ELSE created_at END';
  const rows = deliveries.map(deliveryParams);
  const col = <K extends keyof (typeof rows)[number]>(k: K) => rows.map((r) => r[k]);
  await q(
    `INSERT INTO deliveries (id, account_id, mode, target, origin, method, headers, body, policy, timeout_ms,
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
    [
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
  );
}
