/** Sending domains (harepost-quickstart, SPEC §9): add, list, verify by DNS TXT, delete. */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { normalizeDomain } from '../../core/domain-name.js';
import type { ApiDeps } from '../deps.js';
import { badRequest, notFound } from '../errors.js';
import { CHALLENGE_PREFIX, VERIFY_PREFIX, domainJson } from '../present.js';
import { listOf, noFields, noQuery } from '../schemas/common.js';
import { domain as domainObject, domainDeleted } from '../schemas/domain.js';
import { BODY_ERRORS, v1Responses } from '../schemas/responses.js';

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
const addSchema = {
  summary: 'Add a domain (201 new, 200 existing); answers its TXT challenge',
  tags,
  body: domainBodySchema,
  response: v1Responses(
    { 201: { description: 'Added: publish its TXT record.', ...domainObject }, 200: { description: 'Already added.', ...domainObject } },
    BODY_ERRORS,
  ),
};
const listSchema = {
  summary: 'List domains',
  tags,
  querystring: noQuery,
  response: v1Responses({ 200: { description: 'Every domain of the account.', ...listOf(domainObject) } }, { 400: true }),
};
const deleteSchema = {
  summary: 'Remove a domain',
  tags,
  params,
  body: noFields,
  response: v1Responses({ 200: { description: 'Removed.', ...domainDeleted } }, { ...BODY_ERRORS, 404: true }),
};
const verifySchema = {
  summary: 'Look its TXT record up now: verified or pending',
  tags,
  body: domainBodySchema,
  response: v1Responses(
    { 200: { description: 'verified, or still pending when the record is not found.', ...domainObject } },
    { ...BODY_ERRORS, 404: 'not_found: the domain was never added.' },
  ),
};

function domainOf(input: unknown): string {
  const d = normalizeDomain(input);
  if (!d.ok) throw badRequest(d.field, d.message);
  return d.value;
}

export function domainRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post<{ Body: { domain: string } }>('/domains', { schema: addSchema }, async (request, reply) => {
    const domain = domainOf(request.body.domain);
    const { record, created } = await deps.store.addDomain({
      account_id: request.auth.account_id,
      domain,
      token: randomBytes(16).toString('hex'),
      status: 'pending',
      created_at: Date.now(),
      verified_at: null,
    });
    return reply.code(created ? 201 : 200).send(domainJson(record));
  });

  app.get('/domains', { schema: listSchema }, async (request) => {
    const rows = await deps.store.listDomains(request.auth.account_id);
    return { data: rows.map(domainJson) };
  });

  app.post<{ Body: { domain: string } }>(
    '/domains/verify',
    { schema: verifySchema },
    async (request) => {
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

  app.delete<{ Params: { domain: string } }>('/domains/:domain', { schema: deleteSchema }, async (request) => {
    const domain = domainOf(request.params.domain);
    const deleted = await deps.store.deleteDomain(request.auth.account_id, domain);
    if (!deleted) throw notFound(`Domain ${domain}`);
    return { domain, deleted: true };
  });
}
