/**
 * Accounts and their API keys on the embedded store: the accounts themselves, the operator's view
 * of them (the list, usage counts, changes — suspension ends sessions in the same transaction —
 * and erasure in batches), and the keys that authenticate callers.
 * Resuming an account wakes dispatchers (`wake`, given by the store): its pending deliveries are
 * claimable again.
 */
import type { Database as Db, Statement } from 'better-sqlite3';
import { ERASED_TABLES, decodeAccountCursor, encodeAccountCursor, quotedTable } from '../account-rows.js';
import { ACCOUNT_COLUMNS, type Row, accountLimitsColumn, toAccount } from '../rows.js';
import type { LimitDefaults } from '../../core/limits.js';
import type { SqliteConnection } from '../sqlite/connection.js';
import type { SqliteLimits } from '../sqlite/limits.js';
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

/** One kind of row of an account: deletes up to `limit` of them, returns how many rows went. */
type EraseStep = (accountId: string, limit: number) => number;

export class SqliteAccounts implements AccountsStore {
  /** Prepared on first use (the tables exist only after migrate()). */
  private readonly statements;

  constructor(
    private readonly conn: SqliteConnection,
    private readonly limits: SqliteLimits,
    private readonly wake: () => void,
  ) {
    this.statements = conn.prepared((db) => ({ ...prepareAccounts(db), steps: eraseSteps(db) }));
  }

  private get s() {
    return this.statements();
  }

  private get db(): Db {
    return this.conn.db;
  }

  async createAccount(account: Account): Promise<void> {
    this.s.insertAccount.run({ id: account.id, name: account.name, created_at: account.created_at, limits: accountLimitsColumn(account.limits) });
  }

  async getAccount(id: string): Promise<Account | null> {
    const row = this.s.getAccount.get(id) as Row | undefined;
    return row ? toAccount(row) : null;
  }

  async listAccounts(query: { limit: number; cursor?: string }): Promise<AccountPage> {
    const at = query.cursor === undefined ? null : decodeAccountCursor(query.cursor);
    const rows = (at ? this.s.pageAfter.all(at.created_at, at.id, query.limit + 1) : this.s.firstPage.all(query.limit + 1)) as Row[];
    const page = rows.slice(0, query.limit).map(toAccount);
    const last = page[page.length - 1];
    return { rows: page, next_cursor: rows.length > query.limit && last ? encodeAccountCursor(last) : null };
  }

  async accountUsage(accountId: string): Promise<AccountUsage> {
    return this.s.usage.get({ id: accountId }) as AccountUsage;
  }

  async updateAccount(accountId: string, patch: AccountPatch, now: number): Promise<Account | null> {
    const { account, resumed } = this.db.transaction(() => {
      if (!this.s.getAccount.get(accountId)) return { account: null, resumed: false };
      if (patch.name !== undefined) this.s.rename.run(patch.name, accountId);
      if (patch.limits !== undefined) this.s.setLimits.run(accountLimitsColumn(patch.limits), accountId);
      let resumed = false;
      if (patch.suspended === true) {
        this.s.suspend.run(now, accountId);
        this.s.endSessions.run(accountId);
        this.s.endLoginTokens.run(accountId);
      } else if (patch.suspended === false) {
        resumed = this.s.resume.run(accountId).changes > 0;
      }
      return { account: toAccount(this.s.getAccount.get(accountId) as Row), resumed };
    }).immediate();
    if (resumed) this.wake(); // its pending deliveries are claimable again
    return account;
  }

  async beginAccountErasure(accountId: string, now: number): Promise<Account | null> {
    return this.db.transaction(() => {
      if (this.s.markErasing.run({ id: accountId, now }).changes === 0) return null;
      this.s.deleteKeys.run(accountId);
      this.s.endSessions.run(accountId);
      this.s.endLoginTokens.run(accountId);
      return toAccount(this.s.getAccount.get(accountId) as Row);
    }).immediate();
  }

  async eraseAccountStep(accountId: string, limit: number): Promise<ErasureStep> {
    return this.db.transaction((): ErasureStep => {
      for (const step of this.s.steps) {
        const deleted = step(accountId, limit);
        if (deleted > 0) return { deleted, done: false };
      }
      // nothing known is left: rows in tables this code does not know, then the account itself
      let deleted = 0;
      for (const table of this.s.tablesWithAccountId.all() as string[]) {
        if ((ERASED_TABLES as readonly string[]).includes(table)) continue;
        deleted += this.db.prepare(`DELETE FROM ${quotedTable(table)} WHERE account_id = ?`).run(accountId).changes;
      }
      deleted += this.s.deleteAccount.run(accountId).changes;
      return { deleted, done: true };
    }).immediate();
  }

  async listErasingAccounts(): Promise<string[]> {
    return this.s.erasing.all() as string[];
  }

  async createApiKey(key: NewApiKey, limits?: LimitDefaults): Promise<void> {
    if (!limits) return void this.s.insertKey.run(key);
    this.db
      .transaction(() => {
        this.limits.ensureRoom(key.account_id, 'max_keys', limits);
        this.s.insertKey.run(key);
      })
      .immediate();
  }

  async listApiKeys(accountId: string): Promise<ApiKeyRecord[]> {
    return this.s.listKeys.all(accountId) as ApiKeyRecord[];
  }

  async revokeApiKey(keyId: string, accountId: string | null, now: number): Promise<boolean> {
    const r =
      accountId === null ? this.s.revokeKey.run(now, keyId) : this.s.revokeKeyOfAccount.run(now, keyId, accountId);
    return r.changes > 0;
  }

  async authenticate(keyHash: string): Promise<AuthenticatedKey | null> {
    const r = this.s.authenticate.get(keyHash) as Row | undefined;
    if (!r) return null;
    return { key_id: r.id as string, account_id: r.account_id as string, mode: r.mode as KeyMode, suspended: r.suspended === 1 };
  }

  async touchApiKeys(uses: ReadonlyArray<{ key_id: string; at: number }>): Promise<void> {
    if (uses.length === 0) return;
    this.db.transaction(() => {
      for (const u of uses) this.s.touchKey.run(u);
    })();
  }
}

function prepareAccounts(db: Db) {
  const ids = (sql: string) => db.prepare(sql).pluck();
  return {
    insertAccount: db.prepare('INSERT INTO accounts (id, name, created_at, limits) VALUES (:id, :name, :created_at, :limits)'),
    getAccount: db.prepare(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ?`),
    firstPage: db.prepare(`SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY created_at DESC, id DESC LIMIT ?`),
    pageAfter: db.prepare(
      `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?`,
    ),
    usage: db.prepare(
      `SELECT
         (SELECT COUNT(*) FROM destinations WHERE account_id = :id AND mode IN ('live', 'test')) AS destinations,
         (SELECT COUNT(*) FROM api_keys WHERE account_id = :id AND revoked_at IS NULL) AS keys,
         (SELECT COUNT(*) FROM domains WHERE account_id = :id) AS domains,
         (SELECT COALESCE(SUM(pending), 0) FROM account_backlog WHERE account_id = :id) AS pending_deliveries`,
    ),
    rename: db.prepare('UPDATE accounts SET name = ? WHERE id = ?'),
    setLimits: db.prepare('UPDATE accounts SET limits = ? WHERE id = ?'),
    suspend: db.prepare('UPDATE accounts SET suspended_at = COALESCE(suspended_at, ?) WHERE id = ?'),
    resume: db.prepare('UPDATE accounts SET suspended_at = NULL WHERE id = ? AND suspended_at IS NOT NULL'),
    markErasing: db.prepare(
      'UPDATE accounts SET erasing_since = COALESCE(erasing_since, :now), suspended_at = COALESCE(suspended_at, :now) WHERE id = :id',
    ),
    endSessions: db.prepare('DELETE FROM dashboard_sessions WHERE account_id = ?'),
    endLoginTokens: db.prepare('DELETE FROM dashboard_login_tokens WHERE account_id = ?'),
    deleteKeys: db.prepare('DELETE FROM api_keys WHERE account_id = ?'),
    erasing: ids('SELECT id FROM accounts WHERE erasing_since IS NOT NULL ORDER BY erasing_since, id'),
    deleteAccount: db.prepare('DELETE FROM accounts WHERE id = ?'),
    tablesWithAccountId: ids(
      `SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) p
       WHERE m.type = 'table' AND p.name = 'account_id' ORDER BY m.name`,
    ),
    insertKey: db.prepare(
      `INSERT INTO api_keys (id, account_id, mode, key_hash, prefix, created_at)
       VALUES (:id, :account_id, :mode, :key_hash, :prefix, :created_at)`,
    ),
    listKeys: db.prepare(
      `SELECT id, account_id, mode, prefix, created_at, last_used_at, revoked_at
       FROM api_keys WHERE account_id = ? ORDER BY created_at, id`,
    ),
    revokeKey: db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
    revokeKeyOfAccount: db.prepare(
      'UPDATE api_keys SET revoked_at = ? WHERE id = ? AND account_id = ? AND revoked_at IS NULL',
    ),
    authenticate: db.prepare(
      `SELECT k.id, k.account_id, k.mode, a.suspended_at IS NOT NULL AS suspended
       FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = ? AND k.revoked_at IS NULL`,
    ),
    touchKey: db.prepare(
      'UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at, 0), :at) WHERE id = :key_id',
    ),
  };
}

/** An erasure's steps, one kind of row each, in the order they go. */
function eraseSteps(db: Db): EraseStep[] {
  const ids = (sql: string) => db.prepare(sql).pluck();
  const deliverySeqs = ids('SELECT seq FROM deliveries WHERE account_id = ? LIMIT ?');
  const deleteDeliveries = db.prepare('DELETE FROM deliveries WHERE seq IN (SELECT value FROM json_each(?))');
  const deleteAttempts = db.prepare('DELETE FROM attempts WHERE delivery_seq IN (SELECT value FROM json_each(?))');
  const destinationIds = ids('SELECT id FROM destinations WHERE account_id = ? LIMIT ?');
  const deleteDestinationSecrets = db.prepare('DELETE FROM destination_secrets WHERE destination_id IN (SELECT value FROM json_each(?))');
  const deleteDestinations = db.prepare('DELETE FROM destinations WHERE id IN (SELECT value FROM json_each(?))');
  /** Up to `limit` rows of `table` whose key is `key` (a column or a row value). */
  const some = (table: string, key: string): EraseStep => {
    const stmt: Statement = db.prepare(
      `DELETE FROM ${table} WHERE ${key} IN (SELECT ${key.replace(/[()]/g, '')} FROM ${table} WHERE account_id = ? LIMIT ?)`,
    );
    return (accountId, limit) => stmt.run(accountId, limit).changes;
  };
  return [
    (accountId, limit) => {
      const seqs = JSON.stringify(deliverySeqs.all(accountId, limit));
      return deleteDeliveries.run(seqs).changes + deleteAttempts.run(seqs).changes;
    },
    some('events', 'seq'),
    some('idempotency_keys', '(account_id, mode, key)'),
    some('subscriptions', 'id'),
    (accountId, limit) => {
      const ids = JSON.stringify(destinationIds.all(accountId, limit));
      return deleteDestinationSecrets.run(ids).changes + deleteDestinations.run(ids).changes;
    },
    some('signing_secrets', 'rowid'),
    some('domains', '(account_id, domain)'),
    some('delivery_stats', 'rowid'),
    some('api_keys', 'id'),
    some('dashboard_sessions', 'id_hash'),
    some('dashboard_login_tokens', 'token_hash'),
  ];
}
