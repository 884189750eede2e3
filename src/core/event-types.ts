/**
 * Event types and the subscription patterns that match them: an exact type (`order.created`),
 * a prefix wildcard (`order.*`, matching `order.created` and `order.item.added`) or `*`.
 */
import { type Checked, invalid, valid } from './result.js';

const TYPE = /^[A-Za-z0-9_-]+(?:[.:][A-Za-z0-9_-]+)*$/;
export const MAX_EVENT_TYPE_LENGTH = 255;

export function parseEventType(input: unknown, field = 'type'): Checked<string> {
  if (typeof input !== 'string' || input.length === 0) return invalid(field, `${field} must be a non-empty string`);
  if (input.length > MAX_EVENT_TYPE_LENGTH || !TYPE.test(input)) {
    return invalid(
      field,
      `${field} must be up to ${MAX_EVENT_TYPE_LENGTH} letters, digits, "_" or "-", in parts joined by "." or ":" (e.g. order.created)`,
    );
  }
  return valid(input);
}

export function parseEventPattern(input: unknown, field = 'event_type'): Checked<string> {
  if (input === '*') return valid('*');
  if (typeof input === 'string' && input.endsWith('.*')) {
    const prefix = parseEventType(input.slice(0, -2), field);
    if (!prefix.ok) return invalid(field, `${field} must be an event type, "<prefix>.*" or "*"`);
    return valid(input);
  }
  const exact = parseEventType(input, field);
  if (!exact.ok) return invalid(field, `${field} must be an event type (order.created), a prefix wildcard (order.*) or "*"`);
  return exact;
}

export function eventMatches(pattern: string, type: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

/** Validates a whole list of patterns (`events` on a destination), without duplicates. */
export function parseEventPatterns(input: unknown, field = 'events'): Checked<string[]> {
  if (!Array.isArray(input)) return invalid(field, `${field} must be an array of event types`);
  if (input.length > 256) return invalid(field, `${field} may hold at most 256 event types`);
  const out: string[] = [];
  for (let i = 0; i < input.length; i++) {
    const p = parseEventPattern(input[i], `${field}[${i}]`);
    if (!p.ok) return p;
    if (!out.includes(p.value)) out.push(p.value);
  }
  return valid(out);
}
