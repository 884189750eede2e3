/**
 * Sortable identifiers: `<prefix>_` + a lower-case ULID (48-bit ms timestamp, 80 random bits,
 * Crockford base32). Ids made by one process sort in creation order.
 */
import { randomBytes } from 'node:crypto';

/** Prefix of each kind of id. */
export const ID_PREFIX = Object.freeze({
  delivery: 'hr',
  account: 'acct',
  key: 'key',
  event: 'evt',
  destination: 'dest',
  subscription: 'sub',
} as const);

/** Crockford base32 alphabet, lower case (no i, l, o, u). */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const MAX_TIME = 2 ** 48 - 1;
const RANDOM_MASK = (1n << 80n) - 1n;

let lastTime = -1;
let lastRandom = 0n;

function encode(value: bigint, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) {
    out = ALPHABET[Number(value & 31n)]! + out;
    value >>= 5n;
  }
  return out;
}

/**
 * A new id `${prefix}_<26 chars>`. Within one process ids are strictly increasing: in the same
 * millisecond (or if the clock steps back) the previous random part is incremented instead of
 * drawing a new one, and the timestamp is never allowed to go backwards.
 */
export function newId(prefix: string): string {
  return newIdAt(prefix, Date.now());
}

/** {@link newId} with an explicit clock reading (epoch ms); shares the same monotonic state. */
export function newIdAt(prefix: string, now: number): string {
  let time = Math.min(Math.max(0, Math.floor(now)), MAX_TIME);
  if (time <= lastTime) {
    time = lastTime;
    lastRandom = (lastRandom + 1n) & RANDOM_MASK;
    if (lastRandom === 0n) {
      // 2^80 ids in one ms: borrow the next millisecond.
      time = Math.min(time + 1, MAX_TIME);
    }
  } else {
    lastRandom = BigInt(`0x${randomBytes(10).toString('hex')}`);
  }
  lastTime = time;
  return `${prefix}_${encode(BigInt(time), 10)}${encode(lastRandom, 16)}`;
}

/** True when `id` is `${prefix}_` followed by 26 lower-case Crockford base32 characters. */
export function isId(id: string, prefix: string): boolean {
  if (!id.startsWith(`${prefix}_`)) return false;
  return /^[0-9a-hjkmnp-tv-z]{26}$/.test(id.slice(prefix.length + 1));
}
