/**
 * The dashboard's secrets: one-time login tokens, session ids and CSRF tokens. Each is 32 bytes
 * from the crypto RNG in base64url (43 characters, safe in a URL and a cookie). Login tokens and
 * session ids are stored only as their SHA-256 hash, like API keys.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A login link works once, within this long. */
export const LOGIN_TOKEN_TTL_MS = 15 * 60 * 1000;
/** A session ends this long after it was opened (no sliding renewal: a new link opens a new one). */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

const SECRET_FORMAT = /^[A-Za-z0-9_-]{43}$/;

export function newDashboardSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Whether `value` could be one of ours at all (anything else is refused before the store is asked). */
export function isDashboardSecret(value: unknown): value is string {
  return typeof value === 'string' && SECRET_FORMAT.test(value);
}

/** SHA-256, lower-case hex: what is stored and looked up. */
export function hashDashboardSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Compares two secrets in time that depends on neither (both are hashed to the same length first). */
export function sameSecret(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
