/**
 * A delivery policy: in requests (a send's or a destination's `delivery`, every field optional,
 * numbers clamped to their range, unknown fields refused) and in answers (the effective policy).
 */
import { BACKOFFS, DEFAULT_POLICY, JITTERS, POLICY_BOUNDS } from '../../core/policy.js';
import { keysOf } from './common.js';

const range = (name: keyof typeof POLICY_BOUNDS) =>
  `Clamped to ${POLICY_BOUNDS[name].min}–${POLICY_BOUNDS[name].max}. Default ${DEFAULT_POLICY[name]}.`;

const fields = {
  max_attempts: { type: 'number', description: range('max_attempts') },
  backoff: { type: 'string', enum: [...BACKOFFS], description: `Default ${DEFAULT_POLICY.backoff}.` },
  base_delay_ms: { type: 'number', description: range('base_delay_ms') },
  max_delay_ms: { type: 'number', description: range('max_delay_ms') },
  jitter: { type: 'string', enum: [...JITTERS], description: `Default ${DEFAULT_POLICY.jitter}.` },
  timeout_ms: { type: 'number', description: range('timeout_ms') },
  respect_retry_after: { type: 'boolean', description: `Default ${DEFAULT_POLICY.respect_retry_after}.` },
} as const;

/** `delivery` in a request: each field optional; a number is truncated and clamped, never refused for range. */
export const deliveryPolicyInput = {
  type: 'object',
  additionalProperties: false,
  properties: fields,
} as const;

/** The effective policy a delivery or destination has (every field set). */
export const deliveryPolicy = {
  type: 'object',
  description: 'The effective retry and timeout policy.',
  required: keysOf(fields),
  properties: {
    ...fields,
    max_attempts: { type: 'integer' },
    base_delay_ms: { type: 'integer' },
    max_delay_ms: { type: 'integer' },
    timeout_ms: { type: 'integer' },
  },
} as const;
