/**
 * The account's signing secret for `sign: true` sends, one per mode (SPEC §7).
 * GET shows it (making it on first use); rotate makes a new one, and the old one keeps
 * signing beside it for 24 h so receivers can switch without dropping a webhook.
 */
import { ROTATION_OVERLAP_MS, generateSigningSecret } from '../../core/signing.js';
import type { ApiDeps } from '../deps.js';
import { iso } from '../present.js';
import { noFields } from '../schemas/common.js';
import { BODY_ERRORS, v1Responses } from '../schemas/responses.js';
import type { ResponseOf, SchemaTypedApp } from '../schemas/provider.js';
import { rotatedSigningSecret, signingSecret } from '../schemas/signing-secret.js';

const tags = ['signing-secret'];
const getSchema = {
  summary: "The account's signing secret for this mode (made on first use)",
  tags,
  response: v1Responses({ 200: { description: 'The current secret.', ...signingSecret } }),
};
const rotateSchema = {
  summary: 'Rotate it: a new secret; the old one keeps signing for 24 h',
  tags,
  body: noFields,
  response: v1Responses({ 200: { description: 'The new secret.', ...rotatedSigningSecret } }, BODY_ERRORS),
};

export function signingSecretRoutes(app: SchemaTypedApp, deps: ApiDeps): void {
  app.get('/signing-secret', { schema: getSchema }, async (request) => {
    const { account_id, mode } = request.auth;
    const current = await deps.store.ensureSigningSecret(account_id, mode, {
      secret: generateSigningSecret(),
      created_at: Date.now(),
      retired_at: null,
    });
    const all = await deps.store.getSigningSecrets(account_id, mode, Date.now() - ROTATION_OVERLAP_MS);
    const previous = all.filter((s) => s.retired_at !== null);
    return {
      secret: current.secret,
      created_at: iso(current.created_at),
      previous_secrets_expire_at: previous.map((p) => iso(p.retired_at! + ROTATION_OVERLAP_MS)),
    } satisfies ResponseOf<typeof signingSecret>;
  });

  app.post('/signing-secret/rotate', { schema: rotateSchema }, async (request) => {
    const { account_id, mode } = request.auth;
    const now = Date.now();
    const secret = generateSigningSecret();
    await deps.store.rotateSigningSecret(account_id, mode, { secret, created_at: now, retired_at: null });
    return {
      secret,
      created_at: iso(now),
      previous_secret_expires_at: iso(now + ROTATION_OVERLAP_MS),
    } satisfies ResponseOf<typeof rotatedSigningSecret>;
  });
}
