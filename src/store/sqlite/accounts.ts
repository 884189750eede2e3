/**
 * Accounts as the operator sees them, on the embedded store: the list, usage counts, changes
 * (suspension ends sessions in the same transaction) and erasure in batches.
 */
import type { Database as Db, Statement } from 'better-sqlite3';
import { ERASED_TABLES, decodeAccountCursor, encodeAccountCursor, quotedTable } from '../account-rows.js';
import { ACCOUNT_COLUMNS, type Row, accountLimitsColumn, toAccount } from '../rows.js';
import type { Account, AccountPage, AccountPatch, AccountUsage, ErasureStep } from '../store.js';

/** One kind of row of an account: deletes up to `limit` of them, returns how many rows went. */
type EraseStep = (accountId: string, limit: number) => number;

export class SqliteAccounts {
  private readonly s;
  private readonly steps: EraseStep[];

  constructor(private readonly db: Db) {
    const ids = (sql: string) => db.prepare(sql).pluck();
    this.s = {
      get: db.prepare(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ?`),
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
    };

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
    this.steps = [
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

  list(query: { limit: number; cursor?: string }): AccountPage {
    const at = query.cursor === undefined ? null : decodeAccountCursor(query.cursor);
    const rows = (at ? this.s.pageAfter.all(at.created_at, at.id, query.limit + 1) : this.s.firstPage.all(query.limit + 1)) as Row[];
    const page = rows.slice(0, query.limit).map(toAccount);
    const last = page[page.length - 1];
    return { rows: page, next_cursor: rows.length > query.limit && last ? encodeAccountCursor(last) : null };
  }

  usage(accountId: string): AccountUsage {
    return this.s.usage.get({ id: accountId }) as AccountUsage;
  }

  /** The account after the change, and whether it was resumed by it (its work is due again). */
  update(accountId: string, patch: AccountPatch, now: number): { account: Account | null; resumed: boolean } {
    return this.db.transaction(() => {
      if (!this.s.get.get(accountId)) return { account: null, resumed: false };
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
      return { account: toAccount(this.s.get.get(accountId) as Row), resumed };
    }).immediate();
  }

  beginErasure(accountId: string, now: number): Account | null {
    return this.db.transaction(() => {
      if (this.s.markErasing.run({ id: accountId, now }).changes === 0) return null;
      this.s.deleteKeys.run(accountId);
      this.s.endSessions.run(accountId);
      this.s.endLoginTokens.run(accountId);
      return toAccount(this.s.get.get(accountId) as Row);
    }).immediate();
  }

  eraseStep(accountId: string, limit: number): ErasureStep {
    return this.db.transaction((): ErasureStep => {
      for (const step of this.steps) {
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

  erasing(): string[] {
    return this.s.erasing.all() as string[];
  }
}
