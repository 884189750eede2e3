/** Opaque list cursors: callers see a token, the store sees the position it encodes. */
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
