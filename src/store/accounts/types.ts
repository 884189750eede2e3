/** Accounts and their API keys: the tenants, the operator's view of them, and who a key belongs to. */
import { areaMethods } from '../compose.js';
import type { KeyMode } from '../../core/api-keys.js';
import type { LimitDefaults } from '../../core/limits.js';

export interface Account {
  id: string;
  name: string;
  created_at: number;
  /** Set while an operator has suspended the account; absent or null otherwise. */
  suspended_at?: number | null;
  /** The account's own limits, over the operator's defaults; absent or null: the defaults. */
  limits?: AccountLimits | null;
  /** Set once an operator asked to erase the account: what it owns is being deleted; absent or null otherwise. */
  erasing_since?: number | null;
}

/** What the operator may change on an account (PATCH /admin/v1/accounts/{id}); absent: unchanged. */
export interface AccountPatch {
  name?: string;
  /** Replaces the account's own limits; null: the operator's defaults for every one. */
  limits?: AccountLimits | null;
  suspended?: boolean;
}

/** What an account holds right now, live and test modes together. */
export interface AccountUsage {
  destinations: number;
  /** Keys not revoked. */
  keys: number;
  domains: number;
  /** Deliveries not final yet (queued or retrying). */
  pending_deliveries: number;
}

export interface AccountPage {
  rows: Account[];
  next_cursor: string | null;
}

/** One batch of an account's erasure. */
export interface ErasureStep {
  /** Rows deleted by this step. */
  deleted: number;
  /** Nothing of the account is left, the account itself included. */
  done: boolean;
}

/** Per-account overrides of the operator's limits (HAREPOST_MAX_* defaults); each one optional. */
export interface AccountLimits {
  max_destinations?: number;
  max_keys?: number;
  max_domains?: number;
  max_pending_deliveries?: number;
}

export interface ApiKeyRecord {
  id: string;
  account_id: string;
  mode: KeyMode;
  prefix: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface NewApiKey {
  id: string;
  account_id: string;
  mode: KeyMode;
  key_hash: string;
  prefix: string;
  created_at: number;
}

/** Who is calling: the result of authenticating an API key. */
export interface AuthContext {
  key_id: string;
  account_id: string;
  mode: KeyMode;
}

/** An unrevoked key's caller, as the store finds it: also whether its account is suspended now. */
export interface AuthenticatedKey extends AuthContext {
  suspended: boolean;
}

/** Accounts and API keys (sqlite.ts, postgres.ts beside this file). */
export interface AccountsStore {
  createAccount(account: Account): Promise<void>;
  getAccount(id: string): Promise<Account | null>;

  // The operator's view of accounts

  /** Accounts newest first (by created_at, then id); a cursor this did not return throws InvalidCursorError. */
  listAccounts(query: { limit: number; cursor?: string }): Promise<AccountPage>;
  /** What the account holds now, both modes together (indexed counts). */
  accountUsage(accountId: string): Promise<AccountUsage>;
  /**
   * Changes an account. Suspending sets suspended_at (a repeat keeps the first time) and, in the
   * same transaction, ends its dashboard sessions and unused login links; resuming clears it and
   * wakes dispatchers (its pending deliveries are claimable again). Null: no such account.
   */
  updateAccount(accountId: string, patch: AccountPatch, now: number): Promise<Account | null>;
  /**
   * Starts erasing an account, in one transaction: marks it (erasing_since; suspended too, so no
   * claim takes its deliveries) and deletes its API keys, dashboard sessions and login tokens, so
   * nobody can use it from this moment. A repeat keeps the first time. Null: no such account.
   */
  beginAccountErasure(accountId: string, now: number): Promise<Account | null>;
  /**
   * Deletes up to `limit` more rows the account owns (one table at a time, in one transaction);
   * once nothing else is left, the account row itself, and `done`. Rows of the account in a
   * table this store does not know (any table with an account_id column) go in the last step.
   */
  eraseAccountStep(accountId: string, limit: number): Promise<ErasureStep>;
  /** Ids of the accounts whose erasure was asked and has not finished. */
  listErasingAccounts(): Promise<string[]>;

  /**
   * With `limits` (the operator's defaults): throws LimitExceededError, and makes nothing, when the
   * account already has max_keys unrevoked keys (live and test together; counted in the same transaction).
   */
  createApiKey(key: NewApiKey, limits?: LimitDefaults): Promise<void>;
  listApiKeys(accountId: string): Promise<ApiKeyRecord[]>;
  /** Revokes one key; `accountId` null means any account (operator CLI). True if a live key was revoked. */
  revokeApiKey(keyId: string, accountId: string | null, now: number): Promise<boolean>;
  /** The caller behind an unrevoked key with this hash (and whether its account is suspended), or null. */
  authenticate(keyHash: string): Promise<AuthenticatedKey | null>;
  /** Records when keys were last used (batched by the caller). */
  touchApiKeys(uses: ReadonlyArray<{ key_id: string; at: number }>): Promise<void>;
}

/** AccountsStore's methods, named once for both dialects' stores (see compose.ts). */
export const ACCOUNTS_STORE_METHODS = areaMethods<AccountsStore>()(['createAccount', 'getAccount', 'listAccounts', 'accountUsage', 'updateAccount', 'beginAccountErasure', 'eraseAccountStep', 'listErasingAccounts', 'createApiKey', 'listApiKeys', 'revokeApiKey', 'authenticate', 'touchApiKeys']);
