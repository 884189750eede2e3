/**
 * /admin/v1/accounts: make, list, show (with usage), change (name, limits, suspension) and erase
 * accounts. Suspension and erasure take effect in the store at once: a suspended account's keys
 * get 403 account_suspended (api/auth.ts), its dashboard sessions end, its deliveries wait; an
 * account being erased has no keys left at all.
 */
import { ID_PREFIX, newId } from '../../core/ids.js';
import { printable } from '../../core/plain.js';
import { mintApiKey } from '../../core/api-keys.js';
import { type Account, InvalidCursorError } from '../../store/store.js';
import { ApiError, badRequest } from '../errors.js';
import { parseLimit } from '../routes/deliveries.js';
import { noFields } from '../schemas/common.js';
import type { ResponseOf, SchemaTypedApp } from '../schemas/provider.js';
import type { AdminApiOptions } from './options.js';
import { adminAccountJson, mergeLimits } from './present.js';
import {
  ADMIN_BODY_ERRORS,
  NO_ACCOUNT,
  accountPage,
  accountParams,
  adminAccount,
  adminAccountWithUsage,
  adminResponses,
  createAccountBody,
  createdAccount,
  erasing,
  listQuery,
  patchAccountBody,
} from './schemas.js';

const tags = ['admin'];
const ERASING_CONFLICT = 'account_erasing: the account is being erased.';

const createSchema = {
  summary: 'Make an account, with one live and one test key (shown once)',
  tags,
  body: createAccountBody,
  response: adminResponses({ 201: { description: 'Made: its keys are in this answer only.', ...createdAccount } }, ADMIN_BODY_ERRORS),
};
const listSchema = {
  summary: 'List accounts, newest first',
  tags,
  querystring: listQuery,
  response: adminResponses({ 200: { description: 'One page of accounts, newest first.', ...accountPage } }, { 400: true }),
};
const getSchema = {
  summary: 'Get an account and what it holds',
  tags,
  params: accountParams,
  response: adminResponses({ 200: { description: 'The account, with its usage.', ...adminAccountWithUsage } }, { 404: NO_ACCOUNT }),
};
const patchSchema = {
  summary: 'Rename, suspend or resume an account, or change its limits',
  tags,
  params: accountParams,
  body: patchAccountBody,
  response: adminResponses(
    { 200: { description: 'The account as it is now.', ...adminAccount } },
    { ...ADMIN_BODY_ERRORS, 404: NO_ACCOUNT, 409: ERASING_CONFLICT },
  ),
};
const deleteSchema = {
  summary: 'Erase an account and everything it owns',
  description:
    'Its keys and dashboard sessions stop working at once; everything else it owns (deliveries and their attempts, events, ' +
    'destinations, subscriptions, domains, secrets, idempotency records, counters) is then deleted in batches in the ' +
    'background, and the account last. A repeat while it goes on answers the same.',
  tags,
  params: accountParams,
  body: noFields,
  response: adminResponses({ 202: { description: 'Erasing: GET the account answers 404 once it is done.', ...erasing } }, {
    ...ADMIN_BODY_ERRORS,
    404: NO_ACCOUNT,
  }),
};

/** A name as stored: trimmed, and not blank. */
function accountName(raw: string): string {
  const name = raw.trim();
  if (name === '') throw badRequest('name', 'name must not be blank');
  return name;
}

export const accountNotFound = (id: string) =>
  new ApiError(404, 'not_found', `No account ${printable(id)}: check the id (GET /admin/v1/accounts lists them)`);

export const accountErasing = () =>
  new ApiError(409, 'account_erasing', 'The account is being erased: nothing about it can change any more');

export function accountRoutes(app: SchemaTypedApp, o: AdminApiOptions): void {
  const { store } = o;
  const present = (a: Account) => adminAccountJson(a, o.limitDefaults);

  app.post('/accounts', { schema: createSchema }, async (request, reply) => {
    const now = Date.now();
    const limits = mergeLimits(null, request.body.limits ?? null);
    const account: Account = { id: newId(ID_PREFIX.account), name: accountName(request.body.name), created_at: now, limits };
    await store.createAccount(account);
    const live = mintApiKey(account.id, 'live', now);
    const test = mintApiKey(account.id, 'test', now);
    await store.createApiKey(live.record);
    await store.createApiKey(test.record);
    const made = (await store.getAccount(account.id)) ?? { ...account, suspended_at: null, erasing_since: null };
    return reply.code(201).send({ ...present(made), live_key: live.key, test_key: test.key });
  });

  app.get('/accounts', { schema: listSchema }, async (request) => {
    try {
      const page = await store.listAccounts({
        limit: parseLimit(request.query.limit),
        ...(request.query.cursor !== undefined ? { cursor: request.query.cursor } : {}),
      });
      return { data: page.rows.map(present), next_cursor: page.next_cursor } satisfies ResponseOf<typeof accountPage>;
    } catch (err) {
      if (err instanceof InvalidCursorError) throw badRequest('cursor', 'cursor must be the next_cursor of an earlier page');
      throw err;
    }
  });

  app.get('/accounts/:id', { schema: getSchema }, async (request) => {
    const account = await store.getAccount(request.params.id);
    if (!account) throw accountNotFound(request.params.id);
    return { ...present(account), usage: await store.accountUsage(account.id) } satisfies ResponseOf<typeof adminAccountWithUsage>;
  });

  app.patch(
    '/accounts/:id',
    { schema: patchSchema },
    async (request) => {
      const body = request.body;
      const current = await store.getAccount(request.params.id);
      if (!current) throw accountNotFound(request.params.id);
      if (current.erasing_since != null) throw accountErasing();
      const updated = await store.updateAccount(
        current.id,
        {
          ...(body.name !== undefined ? { name: accountName(body.name) } : {}),
          ...(body.limits !== undefined ? { limits: mergeLimits(current.limits, body.limits) } : {}),
          ...(body.suspended !== undefined ? { suspended: body.suspended } : {}),
        },
        Date.now(),
      );
      if (!updated) throw accountNotFound(request.params.id);
      return present(updated);
    },
  );

  app.delete('/accounts/:id', { schema: deleteSchema }, async (request, reply) => {
    const account = await store.beginAccountErasure(request.params.id, Date.now());
    if (!account) throw accountNotFound(request.params.id);
    request.log.info({ account_id: account.id }, 'account erasure asked');
    void o.eraser.erase(account.id);
    return reply.code(202).send({ id: account.id, status: 'erasing' });
  });
}
