/** Sending domains (harepost-quickstart, SPEC §9): add, list, verify by DNS TXT, delete. */
import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { normalizeDomain } from '../../core/domain-name.js';
import { type ApiDeps, operatorLimits } from '../deps.js';
import { ApiError, badRequest, notFound } from '../errors.js';
import { CHALLENGE_PREFIX, VERIFY_PREFIX, domainJson } from '../present.js';
import { listOf, noFields, noQuery } from '../schemas/common.js';
import { domain as domainObject, domainDeleted } from '../schemas/domain.js';
import { BODY_ERRORS, v1Responses } from '../schemas/responses.js';
import type { ResponseOf, SchemaTypedApp } from '../schemas/provider.js';

const domainBodySchema = {
  type: 'object',
  required: ['domain'],
  additionalProperties: false,
  properties: { domain: { type: 'string', description: 'A domain name such as your-app.com.' } },
} as const;

const tags = ['domains'];
const params = {
  type: 'object',
  required: ['domain'],
  properties: { domain: { type: 'string', description: 'The domain name.' } },
} as const;
/** Domains serve both modes, and live sends depend on them: only a live key changes them. */
const LIVE_ONLY = 'live_key_required: a test key (or a test-mode dashboard) can list domains but not add, verify or delete them.';
const addSchema = {
  summary: 'Add a domain (201 new, 200 existing); answers its TXT challenge. Live keys only',
  tags,
  body: domainBodySchema,
  response: v1Responses(
    { 201: { description: 'Added: publish its TXT record.', ...domainObject }, 200: { description: 'Already added.', ...domainObject } },
    { ...BODY_ERRORS, 403: `${LIVE_ONLY} Or limit_exceeded: the account has max_domains domains.` },
  ),
};
const listSchema = {
  summary: 'List domains',
  tags,
  querystring: noQuery,
  response: v1Responses({ 200: { description: 'Every domain of the account.', ...listOf(domainObject) } }, { 400: true }),
};
const deleteSchema = {
  summary: 'Remove a domain. Live keys only',
  tags,
  params,
  body: noFields,
  response: v1Responses({ 200: { description: 'Removed.', ...domainDeleted } }, { ...BODY_ERRORS, 403: LIVE_ONLY, 404: true }),
};
const verifySchema = {
  summary: 'Look its TXT record up now: verified or pending. Live keys only',
  tags,
  body: domainBodySchema,
  response: v1Responses(
    { 200: { description: 'verified, or still pending when the record is not found.', ...domainObject } },
    { ...BODY_ERRORS, 403: LIVE_ONLY, 404: 'not_found: the domain was never added.' },
  ),
};

/**
 * Only live keys add, verify or delete domains: a domain serves both modes, so a test key (handed
 * to a CI job, a staging box) must never be able to break live sends by deleting one.
 */
function requireLiveKey(request: FastifyRequest): void {
  if (request.auth.mode === 'live') return;
  throw new ApiError(
    403,
    'live_key_required',
    'Domains serve both modes, so only a live key can add, verify or delete them: use a live key (or the dashboard in live mode). A test key can still list them',
  );
}

function domainOf(input: unknown): string {
  const d = normalizeDomain(input);
  if (!d.ok) throw badRequest(d.field, d.message);
  return d.value;
}

export function domainRoutes(app: SchemaTypedApp, deps: ApiDeps): void {
  app.post('/domains', { schema: addSchema }, async (request, reply) => {
    requireLiveKey(request);
    const domain = domainOf(request.body.domain);
    const { record, created } = await deps.store.addDomain(
      {
        account_id: request.auth.account_id,
        domain,
        token: randomBytes(16).toString('hex'),
        status: 'pending',
        created_at: Date.now(),
        verified_at: null,
      },
      operatorLimits(deps), // a new one past max_domains: 403 limit_exceeded
    );
    return reply.code(created ? 201 : 200).send(domainJson(record));
  });

  app.get('/domains', { schema: listSchema }, async (request) => {
    const rows = await deps.store.listDomains(request.auth.account_id);
    return { data: rows.map(domainJson) };
  });

  app.post(
    '/domains/verify',
    { schema: verifySchema },
    async (request) => {
      requireLiveKey(request);
      const domain = domainOf(request.body.domain);
      const existing = await deps.store.getDomain(request.auth.account_id, domain);
      if (!existing) throw notFound(`Domain ${domain}`);
      if (existing.status === 'verified') return domainJson(existing);
      let values: string[] = [];
      try {
        values = await deps.resolver.resolveTxt(`${CHALLENGE_PREFIX}${domain}`);
      } catch (err) {
        request.log.warn({ domain, err: (err as Error).message }, 'TXT lookup failed; domain stays pending');
      }
      const expected = `${VERIFY_PREFIX}${existing.token}`;
      if (values.some((v) => v.trim() === expected)) {
        const verified = await deps.store.markDomainVerified(request.auth.account_id, domain, Date.now());
        return domainJson(verified ?? existing);
      }
      return domainJson(existing);
    },
  );

  app.delete('/domains/:domain', { schema: deleteSchema }, async (request) => {
    requireLiveKey(request);
    const domain = domainOf(request.params.domain);
    const deleted = await deps.store.deleteDomain(request.auth.account_id, domain);
    if (!deleted) throw notFound(`Domain ${domain}`);
    return { domain, deleted: true } satisfies ResponseOf<typeof domainDeleted>;
  });
}
