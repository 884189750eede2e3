/**
 * Accounts as the operator sees them, on PostgreSQL — the same rules as sqlite/accounts.ts: the
 * list, usage counts, changes (suspension ends sessions in the same transaction) and erasure in
 * batches.
 */
import { ERASED_TABLES, decodeAccountCursor, encodeAccountCursor, quotedTable } from '../account-rows.js';
import { ACCOUNT_COLUMNS, type Row, accountLimitsColumn, toAccount } from '../rows.js';
import type { Account, AccountPage, AccountPatch, AccountUsage, ErasureStep } from '../store.js';
import type { Querier } from './querier.js';

/** One kind of row of an account: deletes up to `limit` of them, returns how many rows went. */
type EraseStep = (q: Querier, accountId: string, limit: number) => Promise<number>;

/** Up to `limit` rows of `table` whose key is `key` (a column or a row value). */
const some =
  (table: string, key: string): EraseStep =>
  async (q, accountId, limit) =>
    (
      await q(
        `DELETE FROM ${table} WHERE ${key} IN (SELECT ${key.replace(/[()]/g, '')} FROM ${table} WHERE account_id = $1 LIMIT $2)
         RETURNING 1`,
        [accountId, limit],
      )
    ).length;

const STEPS: EraseStep[] = [
  // The deliveries first. One whose attempt result is being recorded right now (its row locked)
  // is skipped, not waited for: it goes in a later step, with the attempt row that commit adds.
  // One deleted here finds no row when its result comes: nothing is recorded over it.
  async (q, accountId, limit) => {
    const gone = await q(
      `DELETE FROM deliveries WHERE seq IN (
         SELECT seq FROM deliveries WHERE account_id = $1 LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING seq`,
      [accountId, limit],
    );
    if (gone.length === 0) return 0;
    const attempts = await q('DELETE FROM attempts WHERE delivery_seq = ANY($1::bigint[]) RETURNING 1', [gone.map((r) => r.seq)]);
    return gone.length + attempts.length;
  },
  some('events', 'seq'),
  some('idempotency_keys', '(account_id, mode, key)'),
  some('subscriptions', 'id'),
  async (q, accountId, limit) => {
    const gone = await q(
      'DELETE FROM destinations WHERE id IN (SELECT id FROM destinations WHERE account_id = $1 LIMIT $2) RETURNING id',
      [accountId, limit],
    );
    if (gone.length === 0) return 0;
    const secrets = await q('DELETE FROM destination_secrets WHERE destination_id = ANY($1::text[]) RETURNING 1', [gone.map((r) => r.id)]);
    return gone.length + secrets.length;
  },
  some('signing_secrets', 'id'),
  some('domains', '(account_id, domain)'),
  some('delivery_stats', '(account_id, mode, minute, shard)'),
  some('api_keys', 'id'),
  some('dashboard_sessions', 'id_hash'),
  some('dashboard_login_tokens', 'token_hash'),
];

export class PgAccounts {
  constructor(
    private readonly q: Querier,
    private readonly tx: <T>(fn: (q: Querier) => Promise<T>) => Promise<T>,
  ) {}

  async list(query: { limit: number; cursor?: string }): Promise<AccountPage> {
    const at = query.cursor === undefined ? null : decodeAccountCursor(query.cursor);
    const rows = at
      ? await this.q(
          `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE (created_at, id) < ($1::bigint, $2::text)
           ORDER BY created_at DESC, id DESC LIMIT $3`,
          [at.created_at, at.id, query.limit + 1],
        )
      : await this.q(`SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY created_at DESC, id DESC LIMIT $1`, [query.limit + 1]);
    const page = rows.slice(0, query.limit).map(toAccount);
    const last = page[page.length - 1];
    return { rows: page, next_cursor: rows.length > query.limit && last ? encodeAccountCursor(last) : null };
  }

  async usage(accountId: string): Promise<AccountUsage> {
    const [r] = await this.q(
      `SELECT
         (SELECT COUNT(*) FROM destinations WHERE account_id = $1 AND mode IN ('live', 'test')) AS destinations,
         (SELECT COUNT(*) FROM api_keys WHERE account_id = $1 AND revoked_at IS NULL) AS keys,
         (SELECT COUNT(*) FROM domains WHERE account_id = $1) AS domains,
         (SELECT COALESCE(SUM(pending), 0)::int FROM account_backlog WHERE account_id = $1) AS pending_deliveries`,
      [accountId],
    );
    return r as unknown as AccountUsage;
  }

  /** The account after the change, and whether it was resumed by it (its work is due again). */
  update(accountId: string, patch: AccountPatch, now: number): Promise<{ account: Account | null; resumed: boolean }> {
    return this.tx(async (q) => {
      // the row lock orders concurrent changes of one account
      const [before] = await q('SELECT suspended_at FROM accounts WHERE id = $1 FOR UPDATE', [accountId]);
      if (!before) return { account: null, resumed: false };
      if (patch.name !== undefined) await q('UPDATE accounts SET name = $2 WHERE id = $1', [accountId, patch.name]);
      if (patch.limits !== undefined) await q('UPDATE accounts SET limits = $2 WHERE id = $1', [accountId, accountLimitsColumn(patch.limits)]);
      let resumed = false;
      if (patch.suspended === true) {
        await q('UPDATE accounts SET suspended_at = COALESCE(suspended_at, $2) WHERE id = $1', [accountId, now]);
        await endSessions(q, accountId);
      } else if (patch.suspended === false && before.suspended_at != null) {
        await q('UPDATE accounts SET suspended_at = NULL WHERE id = $1', [accountId]);
        resumed = true;
      }
      const [row] = await q(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1`, [accountId]);
      return { account: toAccount(row!), resumed };
    });
  }

  beginErasure(accountId: string, now: number): Promise<Account | null> {
    return this.tx(async (q) => {
      const [row] = await q(
        `UPDATE accounts SET erasing_since = COALESCE(erasing_since, $2), suspended_at = COALESCE(suspended_at, $2)
         WHERE id = $1 RETURNING ${ACCOUNT_COLUMNS}`,
        [accountId, now],
      );
      if (!row) return null;
      await q('DELETE FROM api_keys WHERE account_id = $1', [accountId]);
      await endSessions(q, accountId);
      return toAccount(row);
    });
  }

  eraseStep(accountId: string, limit: number): Promise<ErasureStep> {
    return this.tx(async (q): Promise<ErasureStep> => {
      for (const step of STEPS) {
        const deleted = await step(q, accountId, limit);
        if (deleted > 0) return { deleted, done: false };
      }
      // a delivery skipped above (locked), or sent by a request that was already past its key
      // check when the erasure began: not done yet
      if ((await q('SELECT 1 FROM deliveries WHERE account_id = $1 LIMIT 1', [accountId])).length > 0) return { deleted: 0, done: false };
      // nothing known is left: rows in tables this code does not know, then the account itself
      const tables = await q(
        `SELECT DISTINCT table_name AS name FROM information_schema.columns
         WHERE table_schema = current_schema() AND column_name = 'account_id' ORDER BY 1`,
      );
      let deleted = 0;
      for (const { name } of tables as Array<{ name: string }>) {
        if ((ERASED_TABLES as readonly string[]).includes(name)) continue;
        deleted += (await q(`DELETE FROM ${quotedTable(name)} WHERE account_id = $1 RETURNING 1`, [accountId])).length;
      }
      deleted += (await q('DELETE FROM accounts WHERE id = $1 RETURNING 1', [accountId])).length;
      return { deleted, done: true };
    });
  }

  async erasing(): Promise<string[]> {
    const rows: Row[] = await this.q('SELECT id FROM accounts WHERE erasing_since IS NOT NULL ORDER BY erasing_since, id');
    return rows.map((r) => r.id as string);
  }
}

async function endSessions(q: Querier, accountId: string): Promise<void> {
  await q('DELETE FROM dashboard_sessions WHERE account_id = $1', [accountId]);
  await q('DELETE FROM dashboard_login_tokens WHERE account_id = $1', [accountId]);
}
