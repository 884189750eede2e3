/**
 * API keys: `hp_live_…` / `hp_test_…` + base62 secret (SPEC §2). Stored only as a SHA-256 hash.
 */
import { ID_PREFIX, newId } from './ids.js';
import { createHash, randomBytes } from 'node:crypto';

/** Which data a key sees. */
export type KeyMode = 'live' | 'test';

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Number of random base62 characters in a generated key. */
export const API_KEY_RANDOM_LENGTH = 40;
/** Length of the displayable prefix (`hp_live_AbCd`). */
export const API_KEY_PREFIX_LENGTH = 12;

const KEY_FORMAT = /^hp_(live|test)_[A-Za-z0-9]{32,}$/;

/** `count` uniformly random base62 characters (rejection sampling: no modulo bias). */
function randomBase62(count: number): string {
  let out = '';
  while (out.length < count) {
    for (const byte of randomBytes(count + 8)) {
      if (byte < 248) out += BASE62[byte % 62]!; // 248 = 4 · 62
      if (out.length === count) break;
    }
  }
  return out;
}

/** A new key: `hp_<mode>_` + 40 base62 characters from the crypto RNG (~238 bits). */
export function generateApiKey(mode: KeyMode): string {
  if (mode !== 'live' && mode !== 'test') throw new TypeError(`unknown key mode: ${String(mode)}`);
  return `hp_${mode}_${randomBase62(API_KEY_RANDOM_LENGTH)}`;
}

/** SHA-256 of the key, lower-case hex: what is stored and looked up. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The key's mode, or null when `key` is not well-formed (`hp_(live|test)_` + ≥ 32 base62). */
export function keyMode(key: string): KeyMode | null {
  const m = KEY_FORMAT.exec(key);
  return m ? (m[1] as KeyMode) : null;
}

/** First 12 characters, safe to display (e.g. `hp_live_AbCd`). */
export function keyPrefix(key: string): string {
  return key.slice(0, API_KEY_PREFIX_LENGTH);
}

/** A new key and the record to store for it: the key itself is returned once and never stored. */
export function mintApiKey(accountId: string, mode: KeyMode, now: number = Date.now()) {
  const key = generateApiKey(mode);
  return {
    key,
    record: {
      id: newId(ID_PREFIX.key),
      account_id: accountId,
      mode,
      key_hash: hashApiKey(key),
      prefix: keyPrefix(key),
      created_at: now,
    },
  };
}
