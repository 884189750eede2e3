/**
 * One-time dashboard sign-in links: a token stored only as its SHA-256 hash, in a link that works
 * once within 15 minutes. Made by `harepost login-link`, `harepost dev` and the operator API.
 */
import type { KeyMode } from '../core/api-keys.js';
import { LOGIN_TOKEN_TTL_MS, hashDashboardSecret, newDashboardSecret } from '../core/dashboard-tokens.js';
import type { DashboardStore } from '../store/store.js';

export interface LoginLink {
  url: string;
  expires_at: number;
}

/** Makes a login token for (account, mode) and answers the link that redeems it, under `base`. */
export async function issueLoginLink(store: DashboardStore, accountId: string, mode: KeyMode, base: string, now = Date.now()): Promise<LoginLink> {
  const token = newDashboardSecret();
  const expires_at = now + LOGIN_TOKEN_TTL_MS;
  await store.createLoginToken({ token_hash: hashDashboardSecret(token), account_id: accountId, mode, created_at: now, expires_at });
  return { url: `${base}/dashboard/login?token=${token}`, expires_at };
}
