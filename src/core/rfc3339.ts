/**
 * RFC 3339 date-times (`2026-06-10T14:22:10Z`, `2026-06-10T14:22:10.5+02:00`), strictly: a full
 * date, a full time and a zone (`Z` or `±HH:MM`) are required. Looser ISO 8601 forms (a date
 * alone, no zone, week dates) are refused, so a value means one instant everywhere.
 */

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+\- ])(\d{2}):(\d{2}))$/;

const daysIn = (year: number, month: number) =>
  month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;

/**
 * The instant `text` names, in unix milliseconds (`ms`, whole; `subMs`: digits past the
 * millisecond that are not all zero), or null when it is not an RFC 3339 date-time. A space where
 * the `+` of an offset belongs is read as `+`: a `+` left unencoded in a URL query arrives as a
 * space. A leap second (`:60`) is the instant after `:59`.
 */
export function parseRfc3339(text: string): { ms: number; subMs: boolean } | null {
  const m = DATE_TIME.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 60) return null;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const at = new Date(0);
  at.setUTCFullYear(year, month - 1, day);
  at.setUTCHours(hour, minute, second, 0);
  const digits = m[7] ?? '';
  const ms = Number(digits.slice(0, 3).padEnd(3, '0'));
  return { ms: at.getTime() + ms - offsetMinutes * 60_000, subMs: /[1-9]/.test(digits.slice(3)) };
}

/**
 * For "created strictly before `text`": the smallest whole millisecond that is not before the
 * instant, so `created_at < bound` (times kept in whole ms) means exactly "before the instant".
 */
export function strictlyBeforeBound(text: string): number | null {
  const at = parseRfc3339(text);
  return at === null ? null : at.ms + (at.subMs ? 1 : 0);
}
