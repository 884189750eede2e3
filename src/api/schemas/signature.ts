/**
 * A destination's `signature` (SPEC §7a): one of the named schemes, or a custom header — in
 * requests (header required, the rest defaulted) and in answers (every field of a custom one set).
 */
import {
  MAX_CUSTOM_HEADER_LENGTH,
  MAX_CUSTOM_PREFIX_LENGTH,
  NAMED_SCHEMES,
  SIGNATURE_ENCODINGS,
} from '../../core/signature-scheme.js';

const named = {
  type: 'string',
  enum: [...NAMED_SCHEMES],
  description: 'A named scheme: its headers and signed message as in the README ("Verifying signatures").',
} as const;

const customFields = {
  header: { type: 'string', maxLength: MAX_CUSTOM_HEADER_LENGTH, description: 'The header that carries the signature.' },
  encoding: { type: 'string', enum: [...SIGNATURE_ENCODINGS], description: 'Of the HMAC-SHA256. Default hex.' },
  prefix: { type: 'string', maxLength: MAX_CUSTOM_PREFIX_LENGTH, description: 'Before the signature, e.g. sha256=. Default empty.' },
  timestamped: {
    type: 'boolean',
    description: 'true: the header reads t=<unix seconds>,v1=<signature> over "<t>.<raw body>". Default false.',
  },
} as const;

/** `signature` in a destination request. */
export const signatureInput = {
  description: 'How deliveries to this destination are signed.',
  oneOf: [
    named,
    { type: 'object', additionalProperties: false, required: ['header'], properties: customFields, description: 'A custom header.' },
  ],
} as const;

/** `signature` in a destination answer. */
export const signature = {
  description: 'How deliveries to this destination are signed.',
  oneOf: [named, { type: 'object', required: ['header', 'encoding', 'prefix', 'timestamped'], properties: customFields }],
} as const;
