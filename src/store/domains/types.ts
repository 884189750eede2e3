/** Domains an account proves it owns (a DNS TXT token), so it may send to their addresses. */
import { areaMethods } from '../compose.js';
import type { LimitDefaults } from '../../core/limits.js';

export type DomainStatus = 'pending' | 'verified';

export interface DomainRecord {
  account_id: string;
  domain: string;
  token: string;
  status: DomainStatus;
  created_at: number;
  verified_at: number | null;
}

/** An account's domains and their verification. */
export interface DomainsStore {
  /**
   * Adds a domain, or returns the existing one unchanged (created=false). With `limits`: a new one
   * past the account's max_domains throws LimitExceededError (an existing one is still returned).
   */
  addDomain(domain: DomainRecord, limits?: LimitDefaults): Promise<{ record: DomainRecord; created: boolean }>;
  getDomain(accountId: string, domain: string): Promise<DomainRecord | null>;
  listDomains(accountId: string): Promise<DomainRecord[]>;
  markDomainVerified(accountId: string, domain: string, now: number): Promise<DomainRecord | null>;
  deleteDomain(accountId: string, domain: string): Promise<boolean>;
  /** True when any of `domains` is verified for the account. */
  hasVerifiedDomain(accountId: string, domains: readonly string[]): Promise<boolean>;
}

/** DomainsStore's methods, named once for both dialects' stores (see compose.ts). */
export const DOMAINS_STORE_METHODS = areaMethods<DomainsStore>()(['addDomain', 'getDomain', 'listDomains', 'markDomainVerified', 'deleteDomain', 'hasVerifiedDomain']);
