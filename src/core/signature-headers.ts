/**
 * The signature headers of one attempt, for each scheme (SPEC §7a). Pure: HMAC-SHA256 only.
 *
 * | scheme            | headers                                                             | key, message                      |
 * |-------------------|---------------------------------------------------------------------|-----------------------------------|
 * | standard-webhooks | webhook-id, webhook-timestamp, webhook-signature (+ X-Harepost-Signature) | whsec_ base64 decoded; `{id}.{t}.{body}` |
 * | posthawk          | X-Posthawk-Signature: sha256=<hex>, X-Posthawk-Event, User-Agent    | secret text (UTF-8); body         |
 * | harbor            | Harbor-Signature: t=<t>,v1=<hex>                                    | secret text (UTF-8); `{t}.{body}` |
 * | github            | X-Hub-Signature-256: sha256=<hex>                                   | secret text (UTF-8); body         |
 * | custom            | <header>: <prefix><sig>, or t=<t>,v1=<sig> when timestamped         | secret text (UTF-8); body or `{t}.{body}` |
 *
 * During a rotation overlap (several secrets, newest first) each scheme carries what its verifiers
 * accept: Standard Webhooks one `v1,…` per secret, space-separated; timestamped schemes one
 * `v1=…` per secret after `t=`; single-value schemes (posthawk, github, custom without a
 * timestamp) the newest secret's signature only.
 */
import { createHmac } from 'node:crypto';
import { setOwn } from './plain.js';
import type { SignatureScheme } from './signature-scheme.js';
import { signatureHeaders as standardWebhooksHeaders } from './signing.js';

export const POSTHAWK_USER_AGENT = 'Posthawk-Webhook/1.0';

export interface SigningInput {
  /** The secrets that sign, newest first: the current one, then those still in their overlap. */
  secrets: readonly string[];
  /** The message id (the queue_id of a delivery; the same on every retry). */
  messageId: string;
  /** Unix seconds of this attempt. */
  timestampSec: number;
  /** The raw bytes sent; null for none (signed as empty). */
  body: Buffer | null;
  /** The event type, for schemes that name it (posthawk); null when there is none. */
  eventType: string | null;
}

function hmac(secret: string, parts: ReadonlyArray<string | Buffer | null>): Buffer {
  const mac = createHmac('sha256', Buffer.from(secret, 'utf8'));
  for (const part of parts) if (part !== null) mac.update(part);
  return mac.digest();
}

/** `t=<t>,v1=<sig>[,v1=<sig>…]`, one signature per secret over `<t>.<body>`. */
function timestamped(input: SigningInput, encoding: 'hex' | 'base64'): string {
  const sigs = input.secrets.map((s) => `v1=${hmac(s, [`${input.timestampSec}.`, input.body]).toString(encoding)}`);
  return [`t=${input.timestampSec}`, ...sigs].join(',');
}

/** The newest secret's signature of the raw body. */
function bodySignature(input: SigningInput, encoding: 'hex' | 'base64'): string {
  return hmac(input.secrets[0]!, [input.body]).toString(encoding);
}

/**
 * The headers that sign one attempt with `scheme` (none when there is no secret). They go over
 * the attempt's other headers with {@link withHeaders}: a scheme's own User-Agent replaces Harepost's.
 */
export function signatureHeaders(scheme: SignatureScheme, input: SigningInput): Record<string, string> {
  if (input.secrets.length === 0) return {};
  if (typeof scheme !== 'string') {
    const value = scheme.timestamped ? timestamped(input, scheme.encoding) : scheme.prefix + bodySignature(input, scheme.encoding);
    return { [scheme.header]: value };
  }
  switch (scheme) {
    case 'standard-webhooks':
      return standardWebhooksHeaders(input.secrets, input.messageId, input.timestampSec, input.body);
    case 'posthawk':
      return {
        'X-Posthawk-Signature': `sha256=${bodySignature(input, 'hex')}`,
        ...(input.eventType !== null ? { 'X-Posthawk-Event': input.eventType } : {}),
        'User-Agent': POSTHAWK_USER_AGENT,
      };
    case 'harbor':
      return { 'Harbor-Signature': timestamped(input, 'hex') };
    case 'github':
      return { 'X-Hub-Signature-256': `sha256=${bodySignature(input, 'hex')}` };
  }
}

/**
 * `base` with `extra` over it. Header names match ignoring case, so a name in `extra` replaces
 * the one in `base` however each is spelt (never two of one header on the wire).
 */
export function withHeaders(base: Readonly<Record<string, string>>, extra: Readonly<Record<string, string>>): Record<string, string> {
  const replaced = new Set(Object.keys(extra).map((k) => k.toLowerCase()));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (!replaced.has(k.toLowerCase())) setOwn(out, k, v);
  for (const [k, v] of Object.entries(extra)) setOwn(out, k, v);
  return out;
}
