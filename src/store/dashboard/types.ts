/** The dashboard: one-time login links, browser sessions, and the home page's counts. */
import { areaMethods } from '../compose.js';
import type { KeyMode } from '../../core/api-keys.js';

/**
 * A one-time dashboard login token. The token itself is only ever in the link handed to the
 * user; the store keeps its SHA-256 hash, like API keys.
 */
export interface LoginToken {
  token_hash: string;
  account_id: string;
  mode: KeyMode;
  created_at: number;
  expires_at: number;
}

/** A session about to be opened by redeeming a login token (its owner comes from the token). */
export interface NewDashboardSession {
  /** SHA-256 of the session id; the id itself lives only in the browser's cookie. */
  id_hash: string;
  /**
   * Sent back in X-CSRF-Token on every unsafe request. Kept as is (the session endpoint shows
   * it to the page): without the session cookie it is worth nothing.
   */
  csrf_token: string;
  created_at: number;
  expires_at: number;
}

/** The new id (as its hash) and CSRF token a session gets when it changes mode. */
export type SessionRenewal = Pick<NewDashboardSession, 'id_hash' | 'csrf_token'>;

export interface DashboardSession extends NewDashboardSession {
  account_id: string;
  mode: KeyMode;
}

/** The span the dashboard's home page covers, cut into buckets of `bucket_ms` from `since`. */
export interface OverviewWindow {
  since: number;
  until: number;
  bucket_ms: number;
  /** How many buckets the window holds. */
  buckets: number;
}

export interface DashboardOverviewCounts {
  /** What happened in the window: deliveries accepted, and the statuses attempts left deliveries in. */
  totals: { accepted: number; delivered: number; retrying: number; rejected: number; dead_letter: number };
  /** Every dead_letter delivery of the account and mode, whatever its age. */
  dead_letter: number;
  /** Attempts and failed attempts made in the window, per bucket of `bucket_ms` from `since` (all, oldest first). */
  attempt_buckets: Array<{ attempts: number; failures: number }>;
}

/** Dashboard sign-in, sessions and overview (sqlite.ts, postgres.ts beside this file). */
export interface DashboardStore {
  /** Keeps a one-time login token (by hash); expired tokens and sessions are deleted on the way. */
  createLoginToken(token: LoginToken): Promise<void>;
  /**
   * Uses up a login token and opens `session` for its account and mode, in one transaction.
   * Null, and no session, when the token is unknown, already used or expired at `now`, or its
   * account is suspended.
   */
  redeemLoginToken(tokenHash: string, session: NewDashboardSession, now: number): Promise<DashboardSession | null>;
  /** The session with this id hash, unless it has expired at `now` or its account is suspended. */
  getDashboardSession(idHash: string, now: number): Promise<DashboardSession | null>;
  deleteDashboardSession(idHash: string): Promise<void>;
  /**
   * Moves a session to `mode` of its own account under a new id and CSRF token (`next`), in one
   * transaction: the old id stops working; account, sign-in time and expiry stay. Null, and
   * nothing changed, when no such session is open at `now`.
   */
  switchDashboardSessionMode(idHash: string, mode: KeyMode, next: SessionRenewal, now: number): Promise<DashboardSession | null>;
  /** The home page's counts for (account, mode) over [since, until) — see DashboardOverviewCounts. */
  dashboardOverview(accountId: string, mode: KeyMode, window: OverviewWindow): Promise<DashboardOverviewCounts>;
}

/** DashboardStore's methods, named once for both dialects' stores (see compose.ts). */
export const DASHBOARD_STORE_METHODS = areaMethods<DashboardStore>()(['createLoginToken', 'redeemLoginToken', 'getDashboardSession', 'deleteDashboardSession', 'switchDashboardSessionMode', 'dashboardOverview']);
