/** Domains an account proves it owns, on PostgreSQL: added (within the account's max_domains), verified, listed, deleted. */
import { toDomain } from '../rows.js';
import type { DomainRecord, DomainsStore } from '../store.js';
import type { LimitDefaults } from '../../core/limits.js';
import { ensureRoom } from '../postgres/limits.js';
import type { Querier, Transact } from '../postgres/querier.js';

export class PostgresDomains implements DomainsStore {
  constructor(
    private readonly q: Querier,
    private readonly tx: Transact,
  ) {}

  async addDomain(d: DomainRecord, limits?: LimitDefaults): Promise<{ record: DomainRecord; created: boolean }> {
    const existing = await this.getDomain(d.account_id, d.domain);
    if (existing) return { record: existing, created: false }; // re-adding is not a new one
    const inserted = await this.tx(async (q) => {
      if (limits) {
        await ensureRoom(q, d.account_id, 'max_domains', limits);
        // added meanwhile by a create that held the lock before us: not a new one either
        const [now] = await q('SELECT * FROM domains WHERE account_id = $1 AND domain = $2', [d.account_id, d.domain]);
        if (now) return null;
      }
      return q(
        `INSERT INTO domains (account_id, domain, token, status, created_at, verified_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (account_id, domain) DO NOTHING RETURNING *`,
        [d.account_id, d.domain, d.token, d.status, d.created_at, d.verified_at],
      );
    });
    if (inserted?.[0]) return { record: toDomain(inserted[0]), created: true };
    return { record: (await this.getDomain(d.account_id, d.domain))!, created: false };
  }

  async getDomain(accountId: string, domain: string): Promise<DomainRecord | null> {
    const r = (await this.q('SELECT * FROM domains WHERE account_id = $1 AND domain = $2', [accountId, domain]))[0];
    return r ? toDomain(r) : null;
  }

  async listDomains(accountId: string): Promise<DomainRecord[]> {
    return (await this.q('SELECT * FROM domains WHERE account_id = $1 ORDER BY created_at, domain', [accountId])).map(toDomain);
  }

  async markDomainVerified(accountId: string, domain: string, now: number): Promise<DomainRecord | null> {
    const r = (
      await this.q(
        `UPDATE domains SET status = 'verified', verified_at = COALESCE(verified_at, $1)
         WHERE account_id = $2 AND domain = $3 RETURNING *`,
        [now, accountId, domain],
      )
    )[0];
    return r ? toDomain(r) : null;
  }

  async deleteDomain(accountId: string, domain: string): Promise<boolean> {
    return (await this.q('DELETE FROM domains WHERE account_id = $1 AND domain = $2 RETURNING domain', [accountId, domain])).length > 0;
  }

  async hasVerifiedDomain(accountId: string, domains: readonly string[]): Promise<boolean> {
    if (domains.length === 0) return false;
    const rows = await this.q(
      `SELECT 1 FROM domains WHERE account_id = $1 AND status = 'verified' AND domain = ANY($2::text[]) LIMIT 1`,
      [accountId, domains],
    );
    return rows.length > 0;
  }
}
