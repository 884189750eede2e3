/**
 * Accounts and their API keys on PostgreSQL. Accounts as the operator sees them follow the same
 * rules as accounts/sqlite.ts: the list, usage counts, changes (suspension ends sessions in the
 * same transaction; resuming wakes the dispatchers of every process, through the `wake` the store
 * gives) and erasure in batches.
 */
import { ERASED_TABLES, decodeAccountCursor, encodeAccountCursor, quotedTable } from '../account-rows.js';
import { ACCOUNT_COLUMNS, type Row, accountLimitsColumn, toAccount } from '../rows.js';
import type { LimitDefaults } from '../../core/limits.js';
import type {
  Account,
  AccountPage,
  AccountPatch,
  AccountUsage,
  AccountsStore,
  ApiKeyRecord,
  AuthenticatedKey,
  ErasureStep,
  KeyMode,
  NewApiKey,
} from '../store.js';
import { ensureRoom } from '../postgres/limits.js';
import type { Querier, Transact } from '../postgres/querier.js';

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

export class PostgresAccounts implements AccountsStore {
  /** @param wake tells every process's dispatchers that work may be due (a resumed account's) */
  constructor(
    private readonly q: Querier,
    private readonly tx: Transact,
    private readonly wake: () => Promise<void>,
  ) {}

  async createAccount(a: Account): Promise<void> {
    await this.q('INSERT INTO accounts (id, name, created_at, limits) VALUES ($1, $2, $3, $4)', [
      a.id,
      a.name,
      a.created_at,
      accountLimitsColumn(a.limits),
    ]);
  }

  async getAccount(id: string): Promise<Account | null> {
    const row = (await this.q(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1`, [id]))[0];
    return row ? toAccount(row) : null;
  }

  // The operator's view of accounts

  async listAccounts(query: { limit: number; cursor?: string }): Promise<AccountPage> {
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

  async accountUsage(accountId: string): Promise<AccountUsage> {
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

  async updateAccount(accountId: string, patch: AccountPatch, now: number): Promise<Account | null> {
    const { account, resumed } = await this.update(accountId, patch, now);
    if (resumed) await this.wake(); // its pending deliveries are claimable again, in every process
    return account;
  }

  /** The account after the change, and whether it was resumed by it (its work is due again). */
  private update(accountId: string, patch: AccountPatch, now: number): Promise<{ account: Account | null; resumed: boolean }> {
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

  beginAccountErasure(accountId: string, now: number): Promise<Account | null> {
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

  eraseAccountStep(accountId: string, limit: number): Promise<ErasureStep> {
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

  async listErasingAccounts(): Promise<string[]> {
    const rows: Row[] = await this.q('SELECT id FROM accounts WHERE erasing_since IS NOT NULL ORDER BY erasing_since, id');
    return rows.map((r) => r.id as string);
  }

  // API keys

  async createApiKey(k: NewApiKey, limits?: LimitDefaults): Promise<void> {
    const insert = (q: Querier) =>
      q(`INSERT INTO api_keys (id, account_id, mode, key_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5, $6)`, [
        k.id,
        k.account_id,
        k.mode,
        k.key_hash,
        k.prefix,
        k.created_at,
      ]);
    if (!limits) return void (await insert(this.q));
    await this.tx(async (q) => {
      await ensureRoom(q, k.account_id, 'max_keys', limits);
      await insert(q);
    });
  }

  async listApiKeys(accountId: string): Promise<ApiKeyRecord[]> {
    return (await this.q(
      `SELECT id, account_id, mode, prefix, created_at, last_used_at, revoked_at FROM api_keys
       WHERE account_id = $1 ORDER BY created_at, id`,
      [accountId],
    )) as unknown as ApiKeyRecord[];
  }

  async revokeApiKey(keyId: string, accountId: string | null, now: number): Promise<boolean> {
    const rows = await this.q(
      `UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND ($3::text IS NULL OR account_id = $3)
       AND revoked_at IS NULL RETURNING id`,
      [now, keyId, accountId],
    );
    return rows.length > 0;
  }

  async authenticate(keyHash: string): Promise<AuthenticatedKey | null> {
    const r = (
      await this.q(
        `SELECT k.id, k.account_id, k.mode, a.suspended_at IS NOT NULL AS suspended
         FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
        [keyHash],
      )
    )[0];
    return r ? { key_id: r.id as string, account_id: r.account_id as string, mode: r.mode as KeyMode, suspended: r.suspended === true } : null;
  }

  async touchApiKeys(uses: ReadonlyArray<{ key_id: string; at: number }>): Promise<void> {
    if (uses.length === 0) return;
    await this.q(
      `UPDATE api_keys k SET last_used_at = GREATEST(COALESCE(k.last_used_at, 0), u.at)
       FROM unnest($1::text[], $2::bigint[]) AS u(id, at) WHERE k.id = u.id`,
      [uses.map((u) => u.key_id), uses.map((u) => u.at)],
    );
  }
}

async function endSessions(q: Querier, accountId: string): Promise<void> {
  await q('DELETE FROM dashboard_sessions WHERE account_id = $1', [accountId]);
  await q('DELETE FROM dashboard_login_tokens WHERE account_id = $1', [accountId]);
}
