/**
 * What the /v1/destinations and /v1/webhooks views share: creating, changing and testing a
 * destination. The two route files differ only in the shapes they accept and answer with.
 */
import { parseDestinationInput, type DestinationInput } from '../core/destination-request.js';
import { ID_PREFIX, newId } from '../core/ids.js';
import { attemptHeaders } from '../core/outgoing.js';
import { DEFAULT_POLICY } from '../core/policy.js';
import { signatureHeaders, withHeaders } from '../core/signature-headers.js';
import type { SignatureScheme } from '../core/signature-scheme.js';
import { ROTATION_OVERLAP_MS, generateSigningSecret } from '../core/signing.js';
import type { AuthContext, DestinationRecord, NewSubscription } from '../store/store.js';
import { type ApiDeps, operatorLimits } from './deps.js';
import { badRequest, notFound } from './errors.js';

function checked(
  deps: ApiDeps,
  input: unknown,
  opts: Omit<Parameters<typeof parseDestinationInput>[1], 'allowHttp'>,
): DestinationInput {
  const parsed = parseDestinationInput(input, { ...opts, allowHttp: deps.allowHttpTargets });
  if (!parsed.ok) throw badRequest(parsed.field, parsed.message);
  const url = parsed.value.url;
  if (url?.ipLiteral && !deps.addressPolicy.isAllowed(url.host)) {
    throw badRequest('url', 'url is an address in a blocked (private, loopback or reserved) range: use a public address');
  }
  return parsed.value;
}

const subscriptionsFor = (events: readonly string[]): NewSubscription[] =>
  events.map((event_type) => ({ id: newId(ID_PREFIX.subscription), event_type }));

/**
 * Creates a destination. `defaultSignature` is the scheme when the body names none (the view's
 * default); it is stored resolved, so a later change of the default leaves this one alone.
 */
export async function createDestination(
  deps: ApiDeps,
  auth: AuthContext,
  body: unknown,
  require: readonly ('url' | 'events')[],
  defaultSignature: SignatureScheme,
): Promise<{ destination: DestinationRecord; secret: string }> {
  const input = checked(deps, body, { require });
  const now = Date.now();
  const secret = generateSigningSecret();
  const destination = await deps.store.createDestination(
    {
      id: newId(ID_PREFIX.destination),
      account_id: auth.account_id,
      mode: auth.mode,
      url: input.url!.href,
      origin: input.url!.origin,
      name: input.name ?? null,
      description: input.description ?? null,
      enabled: input.enabled ?? true,
      disabled_reason: null,
      headers: input.headers ?? {},
      policy: input.policy ?? DEFAULT_POLICY,
      rate_limit: input.rate_limit ?? null,
      max_in_flight: input.max_in_flight ?? null,
      signature: input.signature ?? defaultSignature,
      created_at: now,
      updated_at: now,
    },
    subscriptionsFor(input.events ?? []),
    { secret, created_at: now, retired_at: null },
    operatorLimits(deps), // past max_destinations: LimitExceededError, the 403 limit_exceeded
  );
  return { destination, secret };
}

export async function updateDestination(deps: ApiDeps, auth: AuthContext, id: string, body: unknown) {
  const current = await deps.store.getDestination(auth.account_id, auth.mode, id);
  if (!current) throw notFound('Destination');
  const input = checked(deps, body, { basePolicy: current.policy });
  const updated = await deps.store.updateDestination(
    auth.account_id,
    auth.mode,
    id,
    {
      ...(input.url ? { url: input.url.href, origin: input.url.origin } : {}),
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.enabled !== undefined ? { enabled: input.enabled, disabled_reason: input.enabled ? null : 'Disabled through the API' } : {}),
      ...(input.headers ? { headers: input.headers } : {}),
      ...(input.policy ? { policy: input.policy } : {}),
      ...(input.rate_limit !== undefined ? { rate_limit: input.rate_limit } : {}),
      ...(input.max_in_flight !== undefined ? { max_in_flight: input.max_in_flight } : {}),
      ...(input.signature !== undefined ? { signature: input.signature } : {}),
    },
    input.events ? subscriptionsFor(input.events) : null,
    Date.now(),
  );
  if (!updated) throw notFound('Destination');
  return updated;
}

export async function deleteDestination(deps: ApiDeps, auth: AuthContext, id: string): Promise<void> {
  const reason = `Destination ${id} was deleted; this delivery will not be attempted again`;
  if (!(await deps.store.deleteDestination(auth.account_id, auth.mode, id, reason, Date.now()))) {
    throw notFound('Destination');
  }
}

export async function currentSecret(deps: ApiDeps, destinationId: string): Promise<string | null> {
  const secrets = await deps.store.getDestinationSecrets(destinationId, Date.now());
  return secrets.find((s) => s.retired_at === null)?.secret ?? null;
}

/** The caller's destination's current signing secret (it can be read again at any time). */
export async function readDestinationSecret(deps: ApiDeps, auth: AuthContext, id: string): Promise<{ id: string; signing_secret: string }> {
  const d = await deps.store.getDestination(auth.account_id, auth.mode, id);
  const secret = d ? await currentSecret(deps, d.id) : null;
  if (!d || secret === null) throw notFound('Destination');
  return { id: d.id, signing_secret: secret };
}

export async function rotateDestinationSecret(deps: ApiDeps, auth: AuthContext, id: string) {
  const now = Date.now();
  const secret = generateSigningSecret();
  if (!(await deps.store.rotateDestinationSecret(auth.account_id, auth.mode, id, { secret, created_at: now, retired_at: null }))) {
    throw notFound('Destination');
  }
  return { secret, previous_secret_expires_at: now + ROTATION_OVERLAP_MS };
}

/** Where the test's private detail goes (the request's logger): what the customer is not shown. */
export interface TestLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/**
 * One signed test request, made now, through the same guarded client as real deliveries. The
 * answer's `error` is the customer's text (no address a name resolved to); the detail goes to `log`.
 */
export async function testDestination(deps: ApiDeps, auth: AuthContext, id: string, log?: TestLog) {
  const d = await deps.store.getDestination(auth.account_id, auth.mode, id);
  if (!d) throw notFound('Destination');
  const now = Date.now();
  const messageId = newId('msg');
  const eventId = newId(ID_PREFIX.event);
  const body = Buffer.from(
    JSON.stringify({
      type: 'harepost.test',
      data: { destination_id: d.id, message: 'This is a test webhook from Harepost.' },
      created_at: new Date(now).toISOString(),
    }),
  );
  const secrets = (await deps.store.getDestinationSecrets(d.id, now - ROTATION_OVERLAP_MS)).map((s) => s.secret);
  const eventType = 'harepost.test';
  // signed as its real deliveries are: with its scheme, over the bytes sent
  const headers = withHeaders(
    attemptHeaders(
      { id: messageId, headers: withHeaders({ 'Content-Type': 'application/json' }, d.headers), idempotency_key: null, event_id: eventId, event_type: eventType },
      1,
    ),
    signatureHeaders(d.signature, { secrets, messageId, timestampSec: Math.floor(now / 1000), body, eventType }),
  );
  const result = await deps.attempt({ url: d.url, method: 'POST', headers, body, timeoutMs: d.policy.timeout_ms });
  if (result.kind === 'response') {
    return { success: result.status >= 200 && result.status < 300, status: result.status, body: result.excerpt };
  }
  if (result.detail !== undefined && log !== undefined) {
    const line = { account_id: auth.account_id, destination_id: d.id, outcome: result.kind, detail: result.detail };
    if (result.kind === 'blocked') log.warn(line, 'destination test: target refused by the address guard');
    else log.info(line, 'destination test: connection failed');
  }
  return { success: false, status: null, body: '', error: `${result.kind}: ${result.error}` };
}
