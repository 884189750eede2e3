/** Opaque list cursors: callers see a token, the store sees the position it encodes. */
import { strictlyBeforeBound } from '../core/rfc3339.js';
import { InvalidCursorError } from './store.js';

export function encodeCursor(seq: number | bigint): string {
  return Buffer.from(`d1:${seq}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^d1:(\d{1,15})$/.exec(text);
  if (!m || Buffer.from(text, 'utf8').toString('base64url') !== cursor) throw new InvalidCursorError();
  return Number(m[1]);
}

/**
 * Where a deliveries page starts: below `seq` (rows are listed by seq, newest first) and, when
 * the listing began at a time, among the rows created before `created_before` (unix ms, strict).
 */
export interface DeliveryPosition {
  before_seq: number | null;
  created_before: number | null;
}

/**
 * The next page's cursor. A listing that began at a time carries that time on, so the next page
 * still holds only rows created before it (`d2:<seq>:<ms>`); otherwise the plain `d1:<seq>`.
 */
export function encodeDeliveryCursor(seq: number | bigint, createdBefore: number | null): string {
  if (createdBefore === null) return encodeCursor(seq);
  return Buffer.from(`d2:${seq}:${createdBefore}`, 'utf8').toString('base64url');
}

/**
 * A deliveries `cursor`: a next_cursor this API returned, or an RFC 3339 date-time meaning
 * "created strictly before that instant" (the deliveries reference's own paging example).
 * Anything else throws InvalidCursorError.
 */
export function decodeDeliveryCursor(cursor: string): DeliveryPosition {
  const bound = strictlyBeforeBound(cursor);
  if (bound !== null) return { before_seq: null, created_before: bound };
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^d2:(\d{1,15}):(-?\d{1,16})$/.exec(text);
  if (m && Buffer.from(text, 'utf8').toString('base64url') === cursor) {
    return { before_seq: Number(m[1]), created_before: Number(m[2]) };
  }
  return { before_seq: decodeCursor(cursor), created_before: null };
}
