/**
 * The versioned schema of both stores, one list: each migration written once, with the tokens of
 * dialects.ts where SQLite and PostgreSQL differ (times, bytes, booleans, row numbers...), and
 * both texts side by side (`d.pick`) where a step genuinely differs in structure.
 * `migrationsFor(dialect)` renders one store's list (sqlite/migrations.ts, postgres/migrations.ts).
 *
 * Append only: a released migration never changes, in either rendering (test/unit/
 * store-migrations.test.ts holds a fingerprint of each). A schema change is a new entry at the end.
 * Times are unix epoch milliseconds.
 *
 * One file, though over 400 lines: it is the schema's history, read top to bottom one version
 * after another; cut in pieces, an append-only list would be harder to follow, not easier.
 */
import type { Migration } from '../migration.js';
import type { Dialect } from './dialects.js';

/** A migration before rendering: its SQL in terms of a dialect. */
export interface MigrationSource {
  readonly version: number;
  readonly name: string;
  readonly sql: (d: Dialect) => string;
}

export const MIGRATIONS: readonly MigrationSource[] = [
  {
    version: 1,
    name: 'accounts, keys, domains, deliveries, attempts',
    sql: (d) => `
      CREATE TABLE accounts (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        created_at  ${d.time} NOT NULL
      );

      CREATE TABLE api_keys (
        id           TEXT PRIMARY KEY,
        account_id   TEXT NOT NULL REFERENCES accounts(id),
        mode         TEXT NOT NULL CHECK (mode IN ('live', 'test')),
        key_hash     TEXT NOT NULL UNIQUE,
        prefix       TEXT NOT NULL,
        created_at   ${d.time} NOT NULL,
        last_used_at ${d.time},
        revoked_at   ${d.time}
      );
      CREATE INDEX api_keys_by_account ON api_keys(account_id, created_at);

      CREATE TABLE domains (
        account_id  TEXT NOT NULL REFERENCES accounts(id),
        domain      TEXT NOT NULL,
        token       TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('pending', 'verified')),
        created_at  ${d.time} NOT NULL,
        verified_at ${d.time},
        PRIMARY KEY (account_id, domain)
      )${d.withoutRowid};

      ${
        // released with this note in the SQLite text only (a released text never changes)
        d.pick({
          sqlite: `-- seq orders the list API (newest first) and keys attempts; id is the public queue_id.
      -- run_at is set only while the delivery is pending: when it may next be claimed
      -- (its scheduled time, or the end of the lease while an attempt is in flight).`,
          postgres: '',
        })
      }
      CREATE TABLE deliveries (
        seq             ${d.seqPrimaryKey},
        id              TEXT NOT NULL UNIQUE,
        account_id      TEXT NOT NULL,
        mode            TEXT NOT NULL,
        target          TEXT NOT NULL,
        origin          TEXT NOT NULL,
        method          TEXT NOT NULL,
        headers         TEXT NOT NULL,
        body            ${d.bytes},
        policy          TEXT NOT NULL,
        timeout_ms      INTEGER NOT NULL,
        idempotency_key TEXT,
        metadata        TEXT,
        sign            ${d.boolean} NOT NULL DEFAULT ${d.false},
        status          TEXT NOT NULL,
        attempt_count   INTEGER NOT NULL DEFAULT 0,
        last_status     INTEGER,
        created_at      ${d.time} NOT NULL,
        updated_at      ${d.time} NOT NULL,
        next_attempt_at ${d.time},
        run_at          ${d.time},
        lease_token     TEXT
      );
      CREATE INDEX deliveries_due ON deliveries(run_at) WHERE run_at IS NOT NULL;
      CREATE INDEX deliveries_list ON deliveries(account_id, mode, seq);
      CREATE INDEX deliveries_list_by_status ON deliveries(account_id, mode, status, seq);

      CREATE TABLE attempts (
        delivery_seq     ${d.bigint} NOT NULL,
        attempt          INTEGER NOT NULL,
        outcome          TEXT NOT NULL,
        http_status      INTEGER,
        latency_ms       INTEGER NOT NULL,
        error            TEXT,
        response_excerpt TEXT,
        created_at       ${d.time} NOT NULL,
        PRIMARY KEY (delivery_seq, attempt)
      )${d.withoutRowid};
    `,
  },
  {
    version: 2,
    name: 'signing secrets, idempotency keys',
    sql: (d) => `
      CREATE TABLE signing_secrets (
        ${d.insertOrderColumn('id', { primaryKey: true })}
        account_id TEXT NOT NULL,
        mode       TEXT NOT NULL,
        secret     TEXT NOT NULL,
        created_at ${d.time} NOT NULL,
        retired_at ${d.time}
      );
      CREATE UNIQUE INDEX signing_secrets_current ON signing_secrets(account_id, mode) WHERE retired_at IS NULL;
      CREATE INDEX signing_secrets_by_owner ON signing_secrets(account_id, mode, created_at);

      CREATE TABLE idempotency_keys (
        account_id   TEXT NOT NULL,
        mode         TEXT NOT NULL,
        key          TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        status_code  INTEGER NOT NULL,
        response     TEXT NOT NULL,
        created_at   ${d.time} NOT NULL,
        PRIMARY KEY (account_id, mode, key)
      )${d.withoutRowid};
      CREATE INDEX idempotency_keys_by_age ON idempotency_keys(created_at);
    `,
  },
  {
    version: 3,
    name: 'destinations, subscriptions, events',
    sql: (d) => `
      CREATE TABLE destinations (
        id              TEXT PRIMARY KEY,
        account_id      TEXT NOT NULL,
        mode            TEXT NOT NULL,
        url             TEXT NOT NULL,
        origin          TEXT NOT NULL,
        name            TEXT,
        description     TEXT,
        enabled         ${d.boolean} NOT NULL DEFAULT ${d.true},
        disabled_reason TEXT,
        headers         TEXT NOT NULL,
        policy          TEXT NOT NULL,
        created_at      ${d.time} NOT NULL,
        updated_at      ${d.time} NOT NULL
      );
      CREATE INDEX destinations_by_owner ON destinations(account_id, mode, created_at);

      CREATE TABLE destination_secrets (
        ${d.insertOrderColumn('id', { primaryKey: true })}
        destination_id TEXT NOT NULL,
        secret         TEXT NOT NULL,
        created_at     ${d.time} NOT NULL,
        retired_at     ${d.time}
      );
      CREATE INDEX destination_secrets_by_destination ON destination_secrets(destination_id, created_at);

      CREATE TABLE subscriptions (
        ${d.insertOrderColumn('seq')}
        id             TEXT PRIMARY KEY,
        account_id     TEXT NOT NULL,
        mode           TEXT NOT NULL,
        destination_id TEXT NOT NULL,
        event_type     TEXT NOT NULL,
        created_at     ${d.time} NOT NULL,
        UNIQUE (destination_id, event_type)
      );
      CREATE INDEX subscriptions_by_owner ON subscriptions(account_id, mode);

      CREATE TABLE events (
        seq             ${d.seqPrimaryKey},
        id              TEXT NOT NULL UNIQUE,
        account_id      TEXT NOT NULL,
        mode            TEXT NOT NULL,
        type            TEXT NOT NULL,
        body            TEXT,
        idempotency_key TEXT,
        metadata        TEXT,
        created_at      ${d.time} NOT NULL
      );
      CREATE INDEX events_list ON events(account_id, mode, seq);

      ALTER TABLE deliveries ADD COLUMN event_id TEXT;
      ALTER TABLE deliveries ADD COLUMN event_type TEXT;
      ALTER TABLE deliveries ADD COLUMN destination_id TEXT;
      ALTER TABLE deliveries ADD COLUMN error TEXT;
      CREATE INDEX deliveries_by_destination ON deliveries(destination_id, status) WHERE destination_id IS NOT NULL;
      CREATE INDEX deliveries_list_by_destination ON deliveries(account_id, mode, destination_id, seq)
        WHERE destination_id IS NOT NULL;
      CREATE INDEX deliveries_list_by_event ON deliveries(account_id, mode, event_id, seq) WHERE event_id IS NOT NULL;
    `,
  },
  {
    version: 4,
    name: 'claim indexes: covering due index, due work by origin',
    sql: () => `
      DROP INDEX deliveries_due;
      CREATE INDEX deliveries_due ON deliveries(run_at, origin) WHERE run_at IS NOT NULL;
      CREATE INDEX deliveries_due_by_origin ON deliveries(origin, run_at) WHERE run_at IS NOT NULL;
    `,
  },
  {
    version: 5,
    name: 'replay budgets, retention indexes',
    sql: () => `
      -- attempts made before the current budget (a replay starts a fresh one, numbering goes on)
      ALTER TABLE deliveries ADD COLUMN attempt_base INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX deliveries_by_status_age ON deliveries(status, updated_at);
      CREATE INDEX events_by_age ON events(created_at);
    `,
  },
  {
    version: 6,
    name: 'dashboard login tokens and sessions, idempotency_key index',
    sql: (d) => `
      -- only SHA-256 hashes of login tokens and session ids are kept (like API keys)
      CREATE TABLE dashboard_login_tokens (
        token_hash TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id),
        mode       TEXT NOT NULL CHECK (mode IN ('live', 'test')),
        created_at ${d.time} NOT NULL,
        expires_at ${d.time} NOT NULL
      )${d.withoutRowid};
      CREATE INDEX dashboard_login_tokens_by_expiry ON dashboard_login_tokens(expires_at);

      CREATE TABLE dashboard_sessions (
        id_hash    TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id),
        mode       TEXT NOT NULL CHECK (mode IN ('live', 'test')),
        csrf_token TEXT NOT NULL,
        created_at ${d.time} NOT NULL,
        expires_at ${d.time} NOT NULL
      )${d.withoutRowid};
      CREATE INDEX dashboard_sessions_by_expiry ON dashboard_sessions(expires_at);

      -- GET /v1/deliveries?idempotency_key=…, newest first
      CREATE INDEX deliveries_list_by_idempotency_key ON deliveries(account_id, mode, idempotency_key, seq)
        WHERE idempotency_key IS NOT NULL;
    `,
  },
  {
    version: 7,
    name: 'flow control per destination, parked deliveries of held origins',
    sql: (d) => `
      ALTER TABLE destinations ADD COLUMN rate_per_second INTEGER;
      ALTER TABLE destinations ADD COLUMN max_in_flight INTEGER;
      -- the rate limit's theoretical arrival time (ms; see core/flow-control)
      ALTER TABLE destinations ADD COLUMN rate_tat ${d.double} NOT NULL DEFAULT 0;
      CREATE INDEX destinations_limited ON destinations(id) WHERE rate_per_second IS NOT NULL OR max_in_flight IS NOT NULL;
      -- gate: the destination whose limits a delivery counts against (NULL: none); such deliveries
      -- are claimed only through their gate, so the general due index leaves them out
      ALTER TABLE deliveries ADD COLUMN gate TEXT;
      -- parked: stepped out of the due index while its origin is held (run_at is when it comes back)
      ALTER TABLE deliveries ADD COLUMN parked ${d.boolean} NOT NULL DEFAULT ${d.false};
      DROP INDEX deliveries_due;
      DROP INDEX deliveries_due_by_origin;
      CREATE INDEX deliveries_due ON deliveries(run_at, origin) WHERE run_at IS NOT NULL AND gate IS NULL;
      CREATE INDEX deliveries_due_by_origin ON deliveries(origin, run_at) WHERE run_at IS NOT NULL AND gate IS NULL;
      CREATE INDEX deliveries_gated_due ON deliveries(gate, run_at) WHERE run_at IS NOT NULL AND gate IS NOT NULL;
    `,
  },
  {
    version: 8,
    name: 'per-minute delivery counters for the dashboard',
    sql: (d) => `
      CREATE TABLE delivery_stats (
        account_id  TEXT NOT NULL,
        mode        TEXT NOT NULL,
        minute      ${d.time} NOT NULL,
        -- commits on PostgreSQL spread over a few rows per minute, so that concurrent ones seldom wait on one
        shard       INTEGER NOT NULL DEFAULT 0,
        accepted    INTEGER NOT NULL DEFAULT 0,
        attempts    INTEGER NOT NULL DEFAULT 0,
        failures    INTEGER NOT NULL DEFAULT 0,
        delivered   INTEGER NOT NULL DEFAULT 0,
        retrying    INTEGER NOT NULL DEFAULT 0,
        rejected    INTEGER NOT NULL DEFAULT 0,
        dead_letter INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (account_id, mode, minute, shard)
      );
      CREATE INDEX delivery_stats_by_age ON delivery_stats(minute);
    `,
  },
  {
    version: 9,
    name: 'signature scheme per destination',
    sql: () => `
      -- 'standard-webhooks' | 'posthawk' | 'harbor' | 'github', or a custom scheme as JSON
      -- (core/signature-scheme.ts). Stored resolved at creation, so a later change of
      -- HAREPOST_DEFAULT_SIGNATURE never changes what an existing receiver gets. Destinations from
      -- before this migration were all signed with Standard Webhooks, and stay so.
      ALTER TABLE destinations ADD COLUMN signature TEXT NOT NULL DEFAULT 'standard-webhooks';
    `,
  },
  {
    version: 10,
    name: 'account suspension and limits',
    sql: (d) => `
      -- suspended_at: set while an operator has suspended the account (its keys get 403, its
      -- sessions end, its pending deliveries are not claimed); NULL otherwise.
      -- limits: JSON of the per-account overrides ({"max_destinations": N, …}); NULL: the defaults.
      ALTER TABLE accounts ADD COLUMN suspended_at ${d.time};
      ALTER TABLE accounts ADD COLUMN limits TEXT;
    `,
  },
  {
    version: 11,
    name: 'pending deliveries per account, event bodies stored once',
    // SQLite keeps one counter row per account (one writer at a time); PostgreSQL a row per session,
    // kept by plpgsql trigger functions, so concurrent commits never wait on one counter row
    sql: (d) =>
      d.pick({
        sqlite: `
      -- How many deliveries of each account are not final yet (queued or retrying), for
      -- max_pending_deliveries: one row read per commit of new sends, never a count over the
      -- backlog. Kept by triggers, so every path that inserts, finishes, replays or deletes a
      -- delivery keeps it true in its own transaction.
      CREATE TABLE account_backlog (
        account_id TEXT PRIMARY KEY,
        pending    INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
      CREATE TRIGGER deliveries_backlog_insert AFTER INSERT ON deliveries
        WHEN NEW.status IN ('queued', 'retrying')
      BEGIN
        INSERT INTO account_backlog (account_id, pending) VALUES (NEW.account_id, 1)
          ON CONFLICT (account_id) DO UPDATE SET pending = pending + 1;
      END;
      CREATE TRIGGER deliveries_backlog_update AFTER UPDATE OF status ON deliveries
        WHEN (OLD.status IN ('queued', 'retrying')) <> (NEW.status IN ('queued', 'retrying'))
      BEGIN
        INSERT INTO account_backlog (account_id, pending)
          VALUES (NEW.account_id, CASE WHEN NEW.status IN ('queued', 'retrying') THEN 1 ELSE -1 END)
          ON CONFLICT (account_id) DO UPDATE SET pending = pending + excluded.pending;
      END;
      CREATE TRIGGER deliveries_backlog_delete AFTER DELETE ON deliveries
        WHEN OLD.status IN ('queued', 'retrying')
      BEGIN
        UPDATE account_backlog SET pending = pending - 1 WHERE account_id = OLD.account_id;
      END;
      INSERT INTO account_backlog (account_id, pending)
        SELECT account_id, COUNT(*) FROM deliveries WHERE status IN ('queued', 'retrying') GROUP BY account_id;
`,
        postgres: `
      -- How many deliveries of each account are not final yet (queued or retrying), for
      -- max_pending_deliveries: a few rows read per commit of new sends, never a count over the
      -- backlog. Kept by triggers, so every path that inserts, finishes, replays or deletes a
      -- delivery keeps it true in its own transaction. The count is the sum over an account's rows:
      -- each database session adds to a row of its own (shard = its backend pid), so no two
      -- transactions ever wait on one counter row, nor deadlock on two; rows of sessions that have
      -- ended are folded into shard 0 by retention (PgMaintenance.compactBacklog).
      CREATE TABLE account_backlog (
        account_id TEXT NOT NULL,
        shard      INTEGER NOT NULL,
        pending    BIGINT NOT NULL,
        PRIMARY KEY (account_id, shard)
      );

      -- new deliveries: one upsert per account and statement (a commit of many sends is one statement)
      CREATE FUNCTION harepost_backlog_inserted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
      BEGIN
        INSERT INTO account_backlog (account_id, shard, pending)
          SELECT n.account_id, pg_backend_pid(), COUNT(*) FROM inserted n
          WHERE n.status IN ('queued', 'retrying') GROUP BY n.account_id ORDER BY n.account_id
          ON CONFLICT (account_id, shard) DO UPDATE SET pending = account_backlog.pending + excluded.pending;
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER deliveries_backlog_insert AFTER INSERT ON deliveries
        REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION harepost_backlog_inserted();

      -- a delivery that ends (or comes back through a replay), or a pending one deleted: row by
      -- row, and only those (claims, releases and parking never change the status)
      CREATE FUNCTION harepost_backlog_changed() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
      BEGIN
        INSERT INTO account_backlog (account_id, shard, pending)
          VALUES (OLD.account_id, pg_backend_pid(),
            CASE WHEN TG_OP = 'UPDATE' AND NEW.status IN ('queued', 'retrying') THEN 1 ELSE -1 END)
          ON CONFLICT (account_id, shard) DO UPDATE SET pending = account_backlog.pending + excluded.pending;
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER deliveries_backlog_update AFTER UPDATE OF status ON deliveries FOR EACH ROW
        WHEN ((OLD.status IN ('queued', 'retrying')) IS DISTINCT FROM (NEW.status IN ('queued', 'retrying')))
        EXECUTE FUNCTION harepost_backlog_changed();
      CREATE TRIGGER deliveries_backlog_delete AFTER DELETE ON deliveries FOR EACH ROW
        WHEN (OLD.status IN ('queued', 'retrying')) EXECUTE FUNCTION harepost_backlog_changed();

      -- after the triggers: CREATE TRIGGER holds off other writers until this commits, so none is missed
      INSERT INTO account_backlog (account_id, shard, pending)
        SELECT account_id, 0, COUNT(*) FROM deliveries WHERE status IN ('queued', 'retrying') GROUP BY account_id;

      -- A commit of new sends locks their accounts' rows (in id order, so commits never deadlock)
      -- and then reads their limits and pending deliveries: each statement of a function sees what
      -- committed before it, so a concurrent commit for the same account is counted, never missed.
      -- FOR NO KEY UPDATE leaves inserts that reference the account (keys, domains) unblocked.
      CREATE FUNCTION harepost_backlog_locked(ids TEXT[]) RETURNS TABLE (account_id TEXT, limits TEXT, pending BIGINT)
        LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $fn$
      #variable_conflict use_column
      BEGIN
        PERFORM 1 FROM accounts a WHERE a.id = ANY(ids) ORDER BY a.id FOR NO KEY UPDATE;
        RETURN QUERY
          SELECT a.id, a.limits, COALESCE((SELECT SUM(b.pending) FROM account_backlog b WHERE b.account_id = a.id), 0)::bigint
          FROM accounts a WHERE a.id = ANY(ids);
      END $fn$;
`,
      }) +
      `
      -- The bytes an event's deliveries send, kept once on the event: its deliveries from now on
      -- store no body of their own (NULL) and read this one. body is then NULL when these bytes
      -- are its JSON text (rows.ts eventBodyColumns). Deliveries made before keep their copies.
      ALTER TABLE events ADD COLUMN payload ${d.bytes};
    `,
  },
  {
    version: 12,
    name: 'lanes: claims by (account, origin), suspended accounts',
    sql: (d) => `
      -- A lane is one account's deliveries to one origin: the dispatcher claims each lane's due work
      -- through its own range of this index, so one lane's backlog costs the others nothing, and
      -- finds the lanes with work waiting by one probe per lane. It replaces the due indexes by time
      -- and by origin (claims no longer walk the due work of every origin in time order).
      CREATE INDEX deliveries_lanes ON deliveries(account_id, origin, run_at) WHERE run_at IS NOT NULL AND gate IS NULL;
      DROP INDEX deliveries_due;
      DROP INDEX deliveries_due_by_origin;
      -- held lanes are no longer parked (claims by lane never walk them): what was parked is due on
      -- its own schedule again
      UPDATE deliveries SET run_at = COALESCE(next_attempt_at, run_at), parked = ${d.false}
        WHERE ${d.isTrue('parked')} AND lease_token IS NULL AND run_at IS NOT NULL;
      -- claims skip suspended accounts: this index is empty while none is
      CREATE INDEX accounts_suspended ON accounts(id) WHERE suspended_at IS NOT NULL;
    `,
  },
  {
    version: 13,
    name: 'account erasure, accounts newest first',
    sql: (d) => `
      -- erasing_since: set when an operator asked to erase the account (DELETE /admin/v1/accounts/{id});
      -- everything it owns is then deleted in batches, and this row goes last. NULL otherwise.
      ALTER TABLE accounts ADD COLUMN erasing_since ${d.time};
      -- GET /admin/v1/accounts pages newest first
      CREATE INDEX accounts_by_age ON accounts(created_at, id);
    `,
  },
  {
    version: 14,
    name: 'one clock for shared times (PostgreSQL only)',
    // the embedded store is one process: its times all come from that process's clock already
    sql: (d) =>
      d.pick({
        sqlite: `SELECT 1;`,
        postgres: `
      -- Every time that several processes compare (due times, leases, gates, holds, expiries) is
      -- read from the database's clock, never a process's: one worker whose clock runs ahead must
      -- not see the others' leases as expired. Epoch milliseconds, like every stored time. STABLE
      -- and inlined: one value per statement (the time it arrived), usable as an index bound.
      CREATE FUNCTION harepost_now_ms() RETURNS BIGINT LANGUAGE sql STABLE PARALLEL SAFE
        AS $fn$ SELECT (extract(epoch FROM statement_timestamp()) * 1000)::bigint $fn$;
    `,
      }),
  },
  {
    version: 15,
    name: 'new deliveries counted by their commit (embedded store only)',
    // the embedded store dropped a per-row trigger; PostgreSQL's sharded counters stay as they are
    sql: (d) =>
      d.pick({
        sqlite: `
      -- A trigger on INSERT made every delivery's insert a multi-row write: SQLite then opens a
      -- statement journal for it and copies each page it touches first, which doubled the CPU
      -- cost of an insert (docs/benchmarks.md, "After the tenancy work"). The one statement that
      -- inserts deliveries (commitInserts) adds them to account_backlog itself, once per account
      -- and call, in the same transaction. Finishing, replaying and deleting still count by trigger.
      DROP TRIGGER deliveries_backlog_insert;
    `,
        postgres: `SELECT 1;`,
      }),
  },
];

/** One store's list: every migration's SQL in that store's dialect, in version order. */
export function migrationsFor(dialect: Dialect): readonly Migration[] {
  return MIGRATIONS.map((m) => ({ version: m.version, name: m.name, sql: m.sql(dialect) }));
}
