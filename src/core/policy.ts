/**
 * Delivery policy: how often, how fast and how long Harepost retries one delivery.
 * Defaults and ranges are the ones in harepost-send-reference ("Delivery policy").
 */
import { type Checked, invalid, valid } from './result.js';
import { isPlainObject } from './plain.js';

/** How the delay grows between attempts. */
export type Backoff = 'exponential' | 'fixed';
/** Whether the computed delay is randomised (`full`: uniform in [0, delay]). */
export type Jitter = 'full' | 'none';

/** The effective retry/timeout policy of one delivery (all fields always present). */
export interface DeliveryPolicy {
  max_attempts: number;
  backoff: Backoff;
  base_delay_ms: number;
  max_delay_ms: number;
  jitter: Jitter;
  timeout_ms: number;
  respect_retry_after: boolean;
}

/** Allowed words for `backoff`. */
export const BACKOFFS: readonly Backoff[] = ['exponential', 'fixed'];
/** Allowed words for `jitter`. */
export const JITTERS: readonly Jitter[] = ['full', 'none'];

/** The policy used for every field the caller does not set. */
export const DEFAULT_POLICY: Readonly<DeliveryPolicy> = Object.freeze({
  max_attempts: 5,
  backoff: 'exponential',
  base_delay_ms: 1000,
  max_delay_ms: 3_600_000,
  jitter: 'full',
  timeout_ms: 10_000,
  respect_retry_after: true,
});

/** Name of a numeric policy field. */
export type NumericPolicyField = 'max_attempts' | 'base_delay_ms' | 'max_delay_ms' | 'timeout_ms';

/** Inclusive range each numeric field is clamped to (never rejected for range). */
export const POLICY_BOUNDS: Readonly<Record<NumericPolicyField, Readonly<{ min: number; max: number }>>> =
  Object.freeze({
    max_attempts: Object.freeze({ min: 1, max: 25 }),
    base_delay_ms: Object.freeze({ min: 100, max: 60_000 }),
    max_delay_ms: Object.freeze({ min: 1000, max: 43_200_000 }),
    timeout_ms: Object.freeze({ min: 1000, max: 30_000 }),
  });

const NUMERIC_FIELDS: readonly NumericPolicyField[] = ['max_attempts', 'base_delay_ms', 'max_delay_ms', 'timeout_ms'];

/** Truncates toward zero, then clamps into the field's bounds. `value` must be finite. */
function clampField(name: NumericPolicyField, value: number): number {
  const { min, max } = POLICY_BOUNDS[name];
  const n = Math.trunc(value);
  return n < min ? min : n > max ? max : n;
}

/**
 * Validates the `delivery` object of a send request and fills the gaps from `base`.
 *
 * - `undefined`/`null` → `base` (a copy).
 * - Anything but a plain object → invalid `delivery`.
 * - A numeric field that is present (including `null`) must be a finite number; it is truncated
 *   toward zero and clamped to {@link POLICY_BOUNDS}.
 * - `backoff`/`jitter` must be one of their words; `respect_retry_after` must be a boolean.
 * - Unknown keys are ignored. The first error (in the field order of {@link DeliveryPolicy}) wins.
 */
export function resolvePolicy(input: unknown, base: DeliveryPolicy = DEFAULT_POLICY): Checked<DeliveryPolicy> {
  if (input === undefined || input === null) return valid({ ...base });
  if (!isPlainObject(input)) return invalid('delivery', 'delivery must be an object');

  const out: DeliveryPolicy = { ...base };
  const order = ['max_attempts', 'backoff', 'base_delay_ms', 'max_delay_ms', 'jitter', 'timeout_ms', 'respect_retry_after'] as const;
  for (const name of order) {
    if (!Object.prototype.hasOwnProperty.call(input, name)) continue;
    const raw = input[name];
    if (raw === undefined) continue;
    const field = `delivery.${name}`;
    if ((NUMERIC_FIELDS as readonly string[]).includes(name)) {
      if (typeof raw !== 'number' || !Number.isFinite(raw)) {
        return invalid(field, `${field} must be a number`);
      }
      out[name as NumericPolicyField] = clampField(name as NumericPolicyField, raw);
    } else if (name === 'backoff') {
      if (typeof raw !== 'string' || !(BACKOFFS as readonly string[]).includes(raw)) {
        return invalid(field, `${field} must be one of: ${BACKOFFS.join(', ')}`);
      }
      out.backoff = raw as Backoff;
    } else if (name === 'jitter') {
      if (typeof raw !== 'string' || !(JITTERS as readonly string[]).includes(raw)) {
        return invalid(field, `${field} must be one of: ${JITTERS.join(', ')}`);
      }
      out.jitter = raw as Jitter;
    } else {
      if (typeof raw !== 'boolean') return invalid(field, `${field} must be a boolean`);
      out.respect_retry_after = raw;
    }
  }
  return valid(out);
}
