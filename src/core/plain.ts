/**
 * Small shape helpers shared by the core validators. Pure, no I/O.
 */

/**
 * True for a plain object: what `JSON.parse` yields for `{…}`, or an object literal /
 * `Object.create(null)`. Arrays, class instances (Date, Map, Buffer…), functions and
 * primitives are not plain objects.
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Sets an own enumerable property even when `key` is `__proto__` (plain assignment would
 * silently change the prototype, or be ignored, instead of creating a key).
 */
export function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Makes user-supplied text safe to put in an error message or field path: control characters
 * (C0, DEL, C1) become `?`, and anything past `max` characters is cut and marked with `…`.
 * Nothing else is escaped.
 */
export function printable(text: string, max = 100): string {
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
