/**
 * Lanes in wake-ups: which (account, origin) pairs a commit gave new work, and how they travel in
 * a PostgreSQL NOTIFY payload (JSON `[[account_id, origin], …]`).
 */
import type { Lane } from './store.js';

/** The distinct lanes of some deliveries, in first-seen order. */
export function lanesOf(items: Iterable<{ account_id: string; origin: string }>): Lane[] {
  const seen = new Map<string, Lane>();
  for (const d of items) {
    const key = `${d.account_id} ${d.origin}`;
    if (!seen.has(key)) seen.set(key, { account_id: d.account_id, origin: d.origin });
  }
  return [...seen.values()];
}

/** NOTIFY payloads must stay under 8,000 bytes: past this, '' (every listener looks for itself). */
const MAX_PAYLOAD = 7900;

/** A NOTIFY payload naming `lanes`, or '' for "could be any" (null, or too many to name). */
export function encodeLanes(lanes: readonly Lane[] | null): string {
  if (lanes === null) return '';
  const payload = JSON.stringify(lanes.map((l) => [l.account_id, l.origin]));
  return payload.length < MAX_PAYLOAD ? payload : '';
}

/** The lanes a NOTIFY payload names; null for '' or anything it cannot read (e.g. an older build's). */
export function decodeLanes(payload: string | undefined): Lane[] | null {
  if (!payload) return null;
  try {
    const parsed: unknown = JSON.parse(payload);
    if (!Array.isArray(parsed)) return null;
    const lanes: Lane[] = [];
    for (const item of parsed) {
      if (!Array.isArray(item) || item.length !== 2 || typeof item[0] !== 'string' || typeof item[1] !== 'string') return null;
      lanes.push({ account_id: item[0], origin: item[1] });
    }
    return lanes;
  } catch {
    return null;
  }
}
