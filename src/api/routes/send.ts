/** POST /v1/send — one outbound request to one target (harepost-send-reference). */
import { candidateDomains } from '../../core/domain-name.js';
import { ID_PREFIX, newId } from '../../core/ids.js';
import { parseSendRequest } from '../../core/send-request.js';
import { generateSigningSecret } from '../../core/signing.js';
import type { NewDelivery } from '../../store/store.js';
import { type ApiDeps, operatorLimits } from '../deps.js';
import { ApiError, badRequest } from '../errors.js';
import { idempotencyOf, recordAs, replay, replayIfUsed } from '../idempotency.js';
import { ipLiteralRefusal } from '../ip-literal-target.js';
import { iso } from '../present.js';
import { sendAccepted } from '../schemas/delivery.js';
import { deliveryPolicyInput } from '../schemas/delivery-policy.js';
import { BACKLOG_OR_RATE_LIMITED, BODY_ERRORS, v1Responses } from '../schemas/responses.js';
import type { ResponseOf, SchemaTypedApp } from '../schemas/provider.js';

export const sendBodySchema = {
  type: 'object',
  required: ['target'],
  additionalProperties: false,
  properties: {
    target: { type: 'string', description: 'Absolute https URL on a verified domain.' },
    method: { type: 'string', enum: ['POST', 'PUT', 'PATCH', 'DELETE', 'GET'] },
    headers: { type: 'object', additionalProperties: { type: 'string' } },
    body: { type: ['string', 'object', 'array', 'null'] },
    delivery: deliveryPolicyInput,
    idempotency_key: { type: ['string', 'null'], maxLength: 255 },
    sign: { type: 'boolean' },
    metadata: { type: ['object', 'null'] },
  },
} as const;

const sendSchema = {
  summary: 'Queue one request to one target (202 once it is committed)',
  description:
    'An Idempotency-Key header makes a retried call safe: within 24 h the same key with the same body ' +
    'returns the first response again.',
  tags: ['send'],
  body: sendBodySchema,
  response: v1Responses(
    { 202: { description: 'Accepted: committed and queued (not yet delivered).', ...sendAccepted } },
    {
      ...BODY_ERRORS,
      403: 'domain_not_verified: the target is not on a verified domain of this account.',
      409: 'idempotency_key_reused: this Idempotency-Key was used with a different request.',
      429: BACKLOG_OR_RATE_LIMITED,
    },
  ),
};

export function sendRoutes(app: SchemaTypedApp, deps: ApiDeps): void {
  const ensured = new Set<string>();
  app.post('/send', { schema: sendSchema }, async (request, reply) => {
    const idem = idempotencyOf(request, 'POST /v1/send');
    if (await replayIfUsed(deps.store, request, reply, idem)) return reply;
    const parsed = parseSendRequest(request.body, { allowHttp: deps.allowHttpTargets });
    if (!parsed.ok) throw badRequest(parsed.field, parsed.message);
    const req = parsed.value;
    if (req.ipLiteral && !deps.addressPolicy.isAllowed(req.host)) {
      throw badRequest('target', 'target is an address in a blocked (private, loopback or reserved) range: use a public address');
    }
    const verified =
      !req.ipLiteral && (await deps.store.hasVerifiedDomain(request.auth.account_id, candidateDomains(req.host)));
    if (!verified) {
      throw new ApiError(
        403,
        'domain_not_verified',
        req.ipLiteral
          ? await ipLiteralRefusal(deps.store, request.auth.account_id, req.target, req.host)
          : `${req.host} is not on a verified domain of this account: add it with POST /v1/domains and verify it`,
        'target',
      );
    }
    const url = new URL(req.target);
    const delivery: NewDelivery = {
      id: newId(ID_PREFIX.delivery),
      account_id: request.auth.account_id,
      mode: request.auth.mode,
      target: req.target,
      origin: url.origin,
      method: req.method,
      headers: req.headers,
      body: req.body,
      policy: req.policy,
      idempotency_key: req.idempotency_key,
      metadata: req.metadata,
      sign: req.sign,
      created_at: Date.now(),
    };
    if (req.sign) {
      // the secret exists before anything is signed with it, so receivers can fetch it
      const owner = `${delivery.account_id}/${delivery.mode}`;
      if (!ensured.has(owner)) {
        await deps.store.ensureSigningSecret(delivery.account_id, delivery.mode, {
          secret: generateSigningSecret(),
          created_at: Date.now(),
          retired_at: null,
        });
        ensured.add(owner);
      }
    }
    const response: ResponseOf<typeof sendAccepted> = {
      queue_id: delivery.id,
      status: 'queued',
      idempotency_key: delivery.idempotency_key,
      created_at: iso(delivery.created_at),
    };
    // past the account's max_pending_deliveries: BacklogFullError, the 429 backlog_full (nothing stored)
    const earlier = await deps.store.enqueueDeliveries(delivery.account_id, delivery.mode, [delivery], {
      ...recordAs(idem, response, delivery.created_at),
      limits: operatorLimits(deps),
    });
    if (earlier && idem) return replay(reply, idem, earlier);
    return reply.code(202).send(response);
  });
}
