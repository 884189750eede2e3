/** An account's domains and their verification, on the embedded store. */
import { type Row, toDomain } from '../rows.js';
import type { LimitDefaults } from '../../core/limits.js';
import type { SqliteConnection } from '../sqlite/connection.js';
import type { SqliteLimits } from '../sqlite/limits.js';
import type { DomainRecord, DomainsStore } from '../store.js';

export class SqliteDomains implements DomainsStore {
  /** Prepared on first use (the tables exist only after migrate()). */
  private readonly statements;

  constructor(
    private readonly conn: SqliteConnection,
    private readonly limits: SqliteLimits,
  ) {
    this.statements = conn.prepared((db) => ({
      insertDomain: db.prepare(
        `INSERT INTO domains (account_id, domain, token, status, created_at, verified_at)
         VALUES (:account_id, :domain, :token, :status, :created_at, :verified_at)
         ON CONFLICT (account_id, domain) DO NOTHING`,
      ),
      getDomain: db.prepare('SELECT * FROM domains WHERE account_id = ? AND domain = ?'),
      listDomains: db.prepare('SELECT * FROM domains WHERE account_id = ? ORDER BY created_at, domain'),
      verifyDomain: db.prepare(
        `UPDATE domains SET status = 'verified', verified_at = COALESCE(verified_at, ?)
         WHERE account_id = ? AND domain = ?`,
      ),
      deleteDomain: db.prepare('DELETE FROM domains WHERE account_id = ? AND domain = ?'),
      verifiedDomainIn: db.prepare(
        `SELECT 1 FROM domains WHERE account_id = ? AND status = 'verified'
         AND domain IN (SELECT value FROM json_each(?)) LIMIT 1`,
      ),
    }));
  }

  private get s() {
    return this.statements();
  }

  async addDomain(domain: DomainRecord, limits?: LimitDefaults): Promise<{ record: DomainRecord; created: boolean }> {
    return this.conn.db
      .transaction(() => {
        const existing = this.s.getDomain.get(domain.account_id, domain.domain) as Row | undefined;
        if (existing) return { record: toDomain(existing), created: false }; // re-adding is not a new one
        if (limits) this.limits.ensureRoom(domain.account_id, 'max_domains', limits);
        this.s.insertDomain.run(domain);
        return { record: toDomain(this.s.getDomain.get(domain.account_id, domain.domain) as Row), created: true };
      })
      .immediate();
  }

  async getDomain(accountId: string, domain: string): Promise<DomainRecord | null> {
    const r = this.s.getDomain.get(accountId, domain) as Row | undefined;
    return r ? toDomain(r) : null;
  }

  async listDomains(accountId: string): Promise<DomainRecord[]> {
    return (this.s.listDomains.all(accountId) as Row[]).map(toDomain);
  }

  async markDomainVerified(accountId: string, domain: string, now: number): Promise<DomainRecord | null> {
    this.s.verifyDomain.run(now, accountId, domain);
    return this.getDomain(accountId, domain);
  }

  async deleteDomain(accountId: string, domain: string): Promise<boolean> {
    return this.s.deleteDomain.run(accountId, domain).changes > 0;
  }

  async hasVerifiedDomain(accountId: string, domains: readonly string[]): Promise<boolean> {
    if (domains.length === 0) return false;
    return this.s.verifiedDomainIn.get(accountId, JSON.stringify(domains)) !== undefined;
  }
}
