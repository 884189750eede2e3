/**
 * The delivery queue's statements on the embedded store: accepting (deliveries, their account's
 * pending count, Idempotency-Keys), claiming (plain, by origin, gated), releasing, and recording
 * attempt results. Prepared once, on first use (queue/sqlite.ts).
 */
import type { Database as Db } from 'better-sqlite3';
import { CLAIMED_COLUMNS, LIMITED, deliveryBodyColumn, gateOf, signatureColumn, signingSecretsColumn } from '../rows.js';
import { statsWriter } from '../sqlite/stats.js';

const CLAIM_RETURNING = `${CLAIMED_COLUMNS}, ${deliveryBodyColumn('deliveries')},
  ${signingSecretsColumn('deliveries', ':secrets_after', 'rowid', 'group_concat')}, ${signatureColumn('deliveries')}`;

const DESTINATION_GONE = `(destination_id IS NOT NULL AND NOT EXISTS (
  SELECT 1 FROM destinations d WHERE d.id = deliveries.destination_id))`;
const DESTINATION_DISABLED = `(destination_id IS NOT NULL AND EXISTS (
  SELECT 1 FROM destinations d WHERE d.id = deliveries.destination_id AND d.enabled = 0))`;

/** Every statement of the queue, prepared against the migrated database. */
export function prepareQueue(db: Db) {
  return {
    insertDelivery: db.prepare(
      `INSERT INTO deliveries (id, account_id, mode, target, origin, method, headers, body, policy,
         timeout_ms, idempotency_key, metadata, sign, status, created_at, updated_at,
         next_attempt_at, run_at, event_id, event_type, destination_id, gate)
       VALUES (:id, :account_id, :mode, :target, :origin, :method, :headers, :body, :policy,
         :timeout_ms, :idempotency_key, :metadata, :sign, 'queued', :created_at, :created_at,
         :created_at, :created_at, :event_id, :event_type, :destination_id, ${gateOf(':destination_id')})`,
    ),
    // new deliveries (always queued) join their account's pending count: one statement per
    // account and call, in the inserting transaction (migration 15: no per-row trigger)
    addPending: db.prepare(
      `INSERT INTO account_backlog (account_id, pending) VALUES (?, ?)
       ON CONFLICT (account_id) DO UPDATE SET pending = pending + excluded.pending`,
    ),
    // A claim picks its rows with a plain SELECT, then leases them one by one by seq, in one
    // transaction: the same UPDATE with the SELECT as its subquery took 3× as long.
    // (These two are claimDue's, for tools and tests; the dispatcher claims by lane: sqlite-lanes.ts.)
    dueSeqs: db
      .prepare(
        `SELECT seq FROM deliveries
         WHERE run_at <= :now AND gate IS NULL AND origin NOT IN (SELECT value FROM json_each(:excluded))
           AND account_id NOT IN (SELECT id FROM accounts WHERE suspended_at IS NOT NULL)
         ORDER BY run_at LIMIT :limit`,
      )
      .pluck(),
    dueSeqsOfOrigin: db
      .prepare(
        `SELECT seq FROM deliveries WHERE origin = :origin AND gate IS NULL AND run_at IS NOT NULL AND run_at <= :now
           AND account_id NOT IN (SELECT id FROM accounts WHERE suspended_at IS NOT NULL)
         ORDER BY run_at LIMIT :limit`,
      )
      .pluck(),
    lease: db.prepare(
      `UPDATE deliveries SET run_at = :now + timeout_ms + :margin, lease_token = :token, parked = 0
       WHERE seq = :seq
       RETURNING ${CLAIM_RETURNING}`,
    ),
    anyGate: db.prepare(`SELECT 1 FROM destinations x WHERE ${LIMITED} LIMIT 1`),
    gatesDue: db.prepare(
      `SELECT x.id, x.account_id, x.origin, x.rate_per_second, x.max_in_flight, x.rate_tat FROM destinations x
       WHERE ${LIMITED} AND EXISTS (SELECT 1 FROM deliveries WHERE gate = x.id AND run_at <= ?)
         AND x.account_id NOT IN (SELECT id FROM accounts WHERE suspended_at IS NOT NULL)`,
    ),
    leasedOf: db.prepare(
      'SELECT COUNT(*) AS n FROM deliveries WHERE gate = ? AND run_at > ? AND lease_token IS NOT NULL',
    ),
    dueSeqsOfGate: db
      .prepare('SELECT seq FROM deliveries WHERE gate = :gate AND run_at <= :now ORDER BY run_at LIMIT :limit')
      .pluck(),
    setRateTat: db.prepare('UPDATE destinations SET rate_tat = ? WHERE id = ?'),
    release: db.prepare(
      `UPDATE deliveries SET run_at = next_attempt_at, lease_token = NULL
       WHERE id = :id AND lease_token = :token`,
    ),
    // A retry of a delivery whose destination was disabled meanwhile is parked (run_at NULL);
    // one whose destination was deleted meanwhile ends dead_letter (the attempt is still recorded).
    finishAttempt: db.prepare(
      `UPDATE deliveries SET attempt_count = :attempt, last_status = :http_status, updated_at = :now,
         lease_token = NULL,
         status = CASE WHEN :status = 'retrying' AND ${DESTINATION_GONE} THEN 'dead_letter' ELSE :status END,
         next_attempt_at = CASE WHEN ${DESTINATION_GONE} THEN NULL ELSE :next END,
         run_at = CASE WHEN ${DESTINATION_GONE} OR ${DESTINATION_DISABLED} THEN NULL ELSE :next END
       WHERE id = :id AND lease_token = :token
       RETURNING seq, account_id, mode, status`,
    ),
    insertAttempt: db.prepare(
      `INSERT OR REPLACE INTO attempts (delivery_seq, attempt, outcome, http_status, latency_ms, error,
         response_excerpt, created_at)
       VALUES (:seq, :attempt, :outcome, :http_status, :latency_ms, :error, :response_excerpt, :created_at)`,
    ),
    claimIdempotencyKey: db.prepare(
      `INSERT INTO idempotency_keys (account_id, mode, key, request_hash, status_code, response, created_at)
       VALUES (:account_id, :mode, :key, :request_hash, :status_code, :response, :created_at)
       ON CONFLICT (account_id, mode, key) DO UPDATE SET
         request_hash = excluded.request_hash, status_code = excluded.status_code,
         response = excluded.response, created_at = excluded.created_at
       WHERE idempotency_keys.created_at < :not_before`,
    ),
    deleteIdempotencyKey: db.prepare('DELETE FROM idempotency_keys WHERE account_id = ? AND mode = ? AND key = ?'),
    getIdempotencyKey: db.prepare(
      `SELECT key, request_hash, status_code, response, created_at FROM idempotency_keys
       WHERE account_id = ? AND mode = ? AND key = ? AND created_at >= ?`,
    ),
    addStats: statsWriter(db),
  };
}
