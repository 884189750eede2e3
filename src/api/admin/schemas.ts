/**
 * The operator API's JSON schemas: what each /admin/v1 request may hold (unknown fields refused)
 * and every field each answer carries (answers are serialised through them).
 */
import { LIMIT_NAMES, type LimitName } from '../../core/limits.js';
import { keysOf, nullableTimestamp, pageOf, timestamp } from '../schemas/common.js';
import { type ErrorStatus, errorResponse } from '../schemas/error.js';

/** The largest limit an operator can set. */
export const MAX_LIMIT = 1_000_000_000;

const mode = { type: 'string', enum: ['live', 'test'] } as const;
const accountName = { type: 'string', minLength: 1, maxLength: 200, description: 'A name for people (not unique).' } as const;

const limitProperty = (name: LimitName) =>
  ({ type: ['integer', 'null'], minimum: 1, maximum: MAX_LIMIT, description: `${name}: a whole number from 1; null: the operator default.` }) as const;
/** One property per limit name (typed as such, so a request's `limits` types as OwnLimits). */
const limitProperties = Object.fromEntries(LIMIT_NAMES.map((name) => [name, limitProperty(name)])) as {
  [N in LimitName]: ReturnType<typeof limitProperty>;
};

/** `limits` in a request: any of the four; null (for one, or for the whole object) means the operator's default. */
export const limitsInput = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: limitProperties,
  description:
    "The account's own limits. A limit left out keeps its value (on create: the default); null sets it back to the " +
    "operator's default (HAREPOST_MAX_*); `\"limits\": null` sets every one back.",
} as const;

const integer = { type: 'integer' } as const;
/** One integer property per limit name (typed as such, so an answer's `limits` has exactly these four). */
const limitIntegers = () => Object.fromEntries(LIMIT_NAMES.map((name) => [name, integer])) as { [N in LimitName]: typeof integer };
const effectiveLimits = {
  type: 'object',
  required: [...LIMIT_NAMES],
  properties: limitIntegers(),
  description: 'The limits that apply: the account’s own where it has one, the operator’s default elsewhere.',
} as const;
const limitOverrides = {
  type: 'object',
  properties: limitIntegers(),
  description: 'Only the limits set on this account itself (the others are the defaults).',
} as const;

const accountProperties = {
  id: { type: 'string', description: 'acct_…' },
  name: { type: 'string' },
  limits: effectiveLimits,
  limit_overrides: limitOverrides,
  suspended: { type: 'boolean', description: 'Its keys get 403 account_suspended, it has no dashboard sessions, its deliveries wait.' },
  suspended_at: nullableTimestamp,
  erasing: { type: 'boolean', description: 'An erasure was asked (DELETE): what it owns is being deleted.' },
  created_at: timestamp,
} as const;
/** Every account field, typed by name (so the schema's type makes each one required). */
const accountRequired = keysOf(accountProperties);

export const adminAccount = { type: 'object', required: accountRequired, properties: accountProperties } as const;

export const accountUsage = {
  type: 'object',
  required: ['destinations', 'keys', 'domains', 'pending_deliveries'],
  properties: {
    destinations: integer,
    keys: { type: 'integer', description: 'Keys not revoked.' },
    domains: integer,
    pending_deliveries: { type: 'integer', description: 'Deliveries queued or retrying.' },
  },
  description: 'What it holds now, live and test modes together.',
} as const;

export const adminAccountWithUsage = {
  type: 'object',
  required: [...accountRequired, 'usage'],
  properties: { ...accountProperties, usage: accountUsage },
} as const;

/** POST /admin/v1/accounts → 201: the keys are in this answer only. */
export const createdAccount = {
  type: 'object',
  required: [...accountRequired, 'live_key', 'test_key'],
  properties: {
    ...accountProperties,
    live_key: { type: 'string', description: 'hp_live_…: shown this once, never again.' },
    test_key: { type: 'string', description: 'hp_test_…: shown this once, never again.' },
  },
} as const;

export const accountPage = pageOf(adminAccount);

export const createAccountBody = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: accountName, limits: limitsInput },
} as const;

export const patchAccountBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: accountName,
    suspended: {
      type: 'boolean',
      description: 'true: its keys get 403, its sessions end, its deliveries wait; false: all resumes.',
    },
    limits: limitsInput,
  },
} as const;

/** A body whose only field is an optional `mode` (default live). */
export const modeBody = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { mode: { ...mode, description: 'Default: live.' } },
} as const;

export const createdKey = {
  type: 'object',
  required: ['id', 'account_id', 'mode', 'key', 'prefix', 'created_at'],
  properties: {
    id: { type: 'string' },
    account_id: { type: 'string' },
    mode,
    key: { type: 'string', description: 'hp_live_… or hp_test_…: shown this once, never again.' },
    prefix: { type: 'string' },
    created_at: timestamp,
  },
} as const;

export const revokedKey = {
  type: 'object',
  required: ['id', 'revoked'],
  properties: { id: { type: 'string' }, revoked: { type: 'boolean', const: true } },
} as const;

export const loginLink = {
  type: 'object',
  required: ['url', 'account_id', 'mode', 'expires_at'],
  properties: {
    url: { type: 'string', description: 'Opens a page that signs one browser in to the dashboard; works once.' },
    account_id: { type: 'string' },
    mode,
    expires_at: timestamp,
  },
} as const;

export const erasing = {
  type: 'object',
  required: ['id', 'status'],
  properties: {
    id: { type: 'string' },
    status: { type: 'string', const: 'erasing', description: 'Going on in the background; GET the account: 404 once it is done.' },
  },
} as const;

export const accountParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', description: 'The account id (acct_…).' } },
} as const;

export const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'string', description: '1 to 100; default 25.' },
    cursor: { type: 'string', description: 'next_cursor from the previous page.' },
  },
} as const;

type AdminErrors = Partial<Record<Exclude<ErrorStatus, 401 | 429 | 503>, string | true>>;

const ADMIN_401 = 'unauthorized: no admin token, or not HAREPOST_ADMIN_TOKEN.';

/** One error status's response entry: its answer is the error shape. */
type ErrorEntry = ReturnType<typeof errorResponse>;

/**
 * An /admin/v1 operation's `schema.response`: its answers, its own errors, and 401 and 503, which
 * any can give. Typed exactly (status → schema), so the routes' answers are typed from it.
 */
export function adminResponses<S extends Record<number, object>, E extends AdminErrors = Record<never, never>>(
  success: S,
  errors: E = {} as E,
): S & Record<keyof E | 401 | 503, ErrorEntry> {
  const out: Record<string, object> = { ...success };
  for (const [status, meaning] of Object.entries(errors) as Array<[string, string | true]>) {
    out[status] = errorResponse(Number(status) as ErrorStatus, meaning === true ? undefined : meaning);
  }
  out[401] = errorResponse(401, ADMIN_401);
  out[503] = errorResponse(503);
  return out as S & Record<keyof E | 401 | 503, ErrorEntry>;
}

export const ADMIN_BODY_ERRORS = { 400: true, 413: true, 415: true } as const;
export const NO_ACCOUNT = 'not_found: no account with this id.';
