/**
 * API keys over the API (SPEC §2). A key is shown once, when made; only its hash is kept.
 * A test key manages test keys only, so it can never mint a live one.
 */
import { type KeyMode, mintApiKey } from '../../core/api-keys.js';
import { type ApiDeps, operatorLimits } from '../deps.js';
import { ApiError, notFound } from '../errors.js';
import { iso } from '../present.js';
import { createdApiKey, apiKey, revokedApiKey } from '../schemas/api-key.js';
import { listOf, noFields, noQuery } from '../schemas/common.js';
import { BODY_ERRORS, v1Responses } from '../schemas/responses.js';
import type { ResponseOf, SchemaTypedApp } from '../schemas/provider.js';

const createKeySchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { mode: { type: 'string', enum: ['live', 'test'], description: "Default: the calling key's mode." } },
} as const;

const tags = ['keys'];
const listSchema = {
  summary: 'List unrevoked keys (never the key itself)',
  tags,
  querystring: noQuery,
  response: v1Responses({ 200: { description: 'The keys this key may manage.', ...listOf(apiKey) } }, { 400: true }),
};
const createSchema = {
  summary: 'Make a key (shown once); a test key makes only test keys',
  tags,
  body: createKeySchema,
  response: v1Responses(
    { 201: { description: 'Made: the key is in this answer only.', ...createdApiKey } },
    {
      ...BODY_ERRORS,
      403: 'forbidden: a test key can only make test keys; or limit_exceeded: the account has max_keys unrevoked keys (live and test together).',
    },
  ),
};
const params = { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } as const;
const revokeSchema = {
  summary: 'Revoke a key at once',
  tags,
  params,
  body: noFields,
  response: v1Responses({ 200: { description: 'Revoked.', ...revokedApiKey } }, { ...BODY_ERRORS, 404: true }),
};

export function keyRoutes(app: SchemaTypedApp, deps: ApiDeps): void {
  const visible = (callerMode: KeyMode, keyMode: KeyMode) => callerMode === 'live' || keyMode === 'test';

  app.get('/keys', { schema: listSchema }, async (request) => {
    const keys = await deps.store.listApiKeys(request.auth.account_id);
    return {
      data: keys
        .filter((k) => k.revoked_at === null && visible(request.auth.mode, k.mode))
        .map((k) => ({
          id: k.id,
          mode: k.mode,
          prefix: k.prefix,
          created_at: iso(k.created_at),
          last_used_at: iso(k.last_used_at),
        }) satisfies ResponseOf<typeof apiKey>),
    };
  });

  app.post('/keys', { schema: createSchema }, async (request, reply) => {
    const mode = request.body?.mode ?? request.auth.mode;
    if (!visible(request.auth.mode, mode)) {
      throw new ApiError(403, 'forbidden', 'A test key can only create test keys: send "mode": "test", or use a live key', 'mode');
    }
    const { key, record } = mintApiKey(request.auth.account_id, mode);
    await deps.store.createApiKey(record, operatorLimits(deps)); // past max_keys: 403 limit_exceeded
    return reply.code(201).send({ id: record.id, mode, key, prefix: record.prefix, created_at: iso(record.created_at) });
  });

  app.delete('/keys/:id', { schema: revokeSchema }, async (request) => {
    const keys = await deps.store.listApiKeys(request.auth.account_id);
    const target = keys.find((k) => k.id === request.params.id && k.revoked_at === null);
    if (!target || !visible(request.auth.mode, target.mode)) throw notFound('Key');
    await deps.store.revokeApiKey(target.id, request.auth.account_id, Date.now());
    return { id: target.id, revoked: true } satisfies ResponseOf<typeof revokedApiKey>;
  });
}
