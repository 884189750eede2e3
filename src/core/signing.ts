/**
 * Standard Webhooks signatures (HMAC-SHA256): `webhook-id`, `webhook-timestamp` and
 * `webhook-signature: v1,<base64>` over `{id}.{timestamp}.{raw body}`. Secrets are `whsec_` +
 * base64 of 32 random bytes; after a rotation the old secret signs alongside the new one.
 */
import { createHmac, randomBytes } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';
/** How long a rotated-out secret keeps signing beside its successor. */
export const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;

export function generateSigningSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

function keyBytes(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  return Buffer.from(encoded, 'base64');
}

/** `v1,<sig>` for each secret, space-separated (newest secret first is the caller's order). */
export function signatureValue(secrets: readonly string[], msgId: string, timestampSec: number, body: Buffer | null): string {
  return secrets
    .map((secret) => {
      const mac = createHmac('sha256', keyBytes(secret));
      mac.update(`${msgId}.${timestampSec}.`);
      if (body) mac.update(body);
      return `v1,${mac.digest('base64')}`;
    })
    .join(' ');
}

/** The headers a signed attempt carries. */
export function signatureHeaders(
  secrets: readonly string[],
  msgId: string,
  timestampSec: number,
  body: Buffer | null,
): Record<string, string> {
  const value = signatureValue(secrets, msgId, timestampSec, body);
  return {
    'webhook-id': msgId,
    'webhook-timestamp': String(timestampSec),
    'webhook-signature': value,
    'X-Harepost-Signature': value,
  };
}
