/**
 * How an operator lets a customer in: API keys (made for an account, shown once; revoked by id)
 * and one-time dashboard sign-in links — the customer's portal.
 */
import { mintApiKey } from '../../core/api-keys.js';
import { ApiError } from '../errors.js';
import { issueLoginLink } from '../login-links.js';
import { iso } from '../present.js';
import { noFields } from '../schemas/common.js';
import type { ResponseOf, SchemaTypedApp } from '../schemas/provider.js';
import { accountErasing, accountNotFound } from './accounts.js';
import type { AdminApiOptions } from './options.js';
import { ADMIN_BODY_ERRORS, NO_ACCOUNT, accountParams, adminResponses, createdKey, loginLink, modeBody, revokedKey } from './schemas.js';

const tags = ['admin'];

const createKeySchema = {
  summary: "Make an API key for an account (shown once); the account's limits do not bind the operator",
  tags,
  params: accountParams,
  body: modeBody,
  response: adminResponses(
    { 201: { description: 'Made: the key is in this answer only.', ...createdKey } },
    { ...ADMIN_BODY_ERRORS, 404: NO_ACCOUNT, 409: 'account_erasing: the account is being erased.' },
  ),
};
const revokeKeySchema = {
  summary: 'Revoke an API key at once, whichever account it belongs to',
  tags,
  params: { type: 'object', required: ['id'], properties: { id: { type: 'string', description: 'The key id (key_…).' } } } as const,
  body: noFields,
  response: adminResponses(
    { 200: { description: 'Revoked.', ...revokedKey } },
    { ...ADMIN_BODY_ERRORS, 404: 'not_found: no unrevoked key with this id.' },
  ),
};
const loginLinkSchema = {
  summary: "A one-time dashboard sign-in link for an account (the customer's portal)",
  description: 'The link works once, within 15 minutes, and opens a 12-hour dashboard session for the account in that mode.',
  tags,
  params: accountParams,
  body: modeBody,
  response: adminResponses(
    { 201: { description: 'The link, to hand to the customer.', ...loginLink } },
    {
      ...ADMIN_BODY_ERRORS,
      404: NO_ACCOUNT,
      409: 'account_suspended: the account is suspended (resume it first); or account_erasing: it is being erased.',
    },
  ),
};

export function accessRoutes(app: SchemaTypedApp, o: AdminApiOptions): void {
  const { store } = o;

  /** The account a request names, unless it is missing or being erased. */
  async function liveAccount(id: string) {
    const account = await store.getAccount(id);
    if (!account) throw accountNotFound(id);
    if (account.erasing_since != null) throw accountErasing();
    return account;
  }

  app.post('/accounts/:id/keys', { schema: createKeySchema }, async (request, reply) => {
    const account = await liveAccount(request.params.id);
    const { key, record } = mintApiKey(account.id, request.body?.mode ?? 'live');
    await store.createApiKey(record);
    return reply.code(201).send({
      id: record.id,
      account_id: account.id,
      mode: record.mode,
      key,
      prefix: record.prefix,
      created_at: iso(record.created_at),
    });
  });

  app.delete('/keys/:id', { schema: revokeKeySchema }, async (request) => {
    if (!(await store.revokeApiKey(request.params.id, null, Date.now()))) {
      throw new ApiError(404, 'not_found', 'No unrevoked key with this id: check the id (it is key_…, not the key itself)');
    }
    return { id: request.params.id, revoked: true } satisfies ResponseOf<typeof revokedKey>;
  });

  app.post('/accounts/:id/login-links', { schema: loginLinkSchema }, async (request, reply) => {
    const account = await liveAccount(request.params.id);
    if (account.suspended_at != null) {
      throw new ApiError(409, 'account_suspended', 'The account is suspended: a sign-in link would open nothing; resume it first');
    }
    const mode = request.body?.mode ?? 'live';
    const link = await issueLoginLink(store, account.id, mode, o.publicUrl());
    return reply.code(201).send({ url: link.url, account_id: account.id, mode, expires_at: iso(link.expires_at) });
  });
}
