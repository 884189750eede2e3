/**
 * The one way the dashboard talks to Harepost.
 * - Same-origin requests with the session cookie (credentials: 'same-origin').
 * - Every method other than GET/HEAD sends `X-CSRF-Token` (from GET /dashboard/api/session) and
 *   `Content-Type: application/json`.
 * - A 401 from any call tells the app (onUnauthorized) so it shows the sign-in screen.
 * - Errors come back as ApiFailure with the API's {code, message, field}.
 */
import type {
  Answer,
  BulkReplayFilter,
  CreatedDestination,
  DeliveryDetail,
  DeliveryFilter,
  DeliverySummary,
  Destination,
  DestinationChanges,
  DestinationSecret,
  Domain,
  EventDetail,
  Mode,
  NewDestination,
  Overview,
  Page,
  RotatedSecret,
  Session,
  TestResult,
} from './types';

/** '/dashboard/api' (the build's base is '/dashboard/'). */
export const API_BASE = `${import.meta.env.BASE_URL.replace(/\/$/, '')}/api`;

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;
let unauthorizedListener: (() => void) | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export function onUnauthorized(listener: (() => void) | null): void {
  unauthorizedListener = listener;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

interface Options {
  body?: unknown;
  signal?: AbortSignal | undefined;
  /** Do not report a 401 to the app (used by the session probe itself). */
  quiet401?: boolean;
}

async function failureOf(res: Response): Promise<ApiFailure> {
  let parsed: unknown = null;
  try {
    parsed = await res.json();
  } catch {
    /* not JSON */
  }
  const err = (parsed as { error?: { code?: unknown; message?: unknown; field?: unknown } } | null)?.error;
  if (err && typeof err.message === 'string') {
    return new ApiFailure(
      res.status,
      typeof err.code === 'string' ? err.code : 'error',
      err.message,
      typeof err.field === 'string' ? err.field : undefined,
    );
  }
  const text = res.status === 401 ? 'Your session has ended; sign in again.' : `The server answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}.`;
  return new ApiFailure(res.status, res.status === 401 ? 'unauthorized' : 'http_error', text);
}

export async function request<T>(method: Method, path: string, opts: Options = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    if (csrfToken !== null) headers['X-CSRF-Token'] = csrfToken;
  }
  let res: Response;
  try {
    res = await fetch(`${API_BASE}${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiFailure(0, 'network_error', 'Could not reach Harepost. Check that the service is running, then try again.');
  }
  if (res.status === 401 && !opts.quiet401) unauthorizedListener?.();
  if (!res.ok) throw await failureOf(res);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  if (text === '') return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiFailure(res.status, 'invalid_response', 'The server answered with something that is not JSON.');
  }
}

export function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

const enc = encodeURIComponent;
type Sig = AbortSignal | undefined;

/** Returns the session, or null when not signed in (401). */
export async function getSession(signal?: Sig): Promise<Session | null> {
  try {
    return await request<Session>('GET', '/session', { signal, quiet401: true });
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 401) return null;
    throw err;
  }
}

export const api = {
  logout: () => request<void>('POST', '/logout', { quiet401: true }),
  /** Moves the session to the other mode of its account: the new session (new CSRF token). */
  switchMode: (mode: Mode) => request<Session>('POST', '/session/mode', { body: { mode } }),
  overview: (signal?: Sig) => request<Overview>('GET', '/overview', { signal }),

  listDeliveries: (f: DeliveryFilter & { limit?: number; cursor?: string | null }, signal?: Sig) =>
    request<Answer<'/v1/deliveries', 'get'>>(
      'GET',
      `/v1/deliveries${query({
        status: f.status,
        destination_id: f.destination_id,
        event_id: f.event_id,
        idempotency_key: f.idempotency_key,
        limit: f.limit,
        cursor: f.cursor,
      })}`,
      { signal },
    ),
  getDelivery: (id: string, signal?: Sig) => request<DeliveryDetail>('GET', `/v1/deliveries/${enc(id)}`, { signal }),
  /** POST /v1/deliveries/{id}/retry (202 with the delivery, now queued). */
  replayDelivery: (id: string) => request<DeliveryDetail>('POST', `/v1/deliveries/${enc(id)}/retry`),
  /** POST /v1/deliveries/retry: every dead_letter/rejected delivery matching the filter → {count}. */
  bulkReplay: (filter: BulkReplayFilter) => request<Answer<'/v1/deliveries/retry', 'post', 202>>('POST', '/v1/deliveries/retry', { body: filter }),

  listDestinations: (signal?: Sig) => request<Answer<'/v1/destinations', 'get'>>('GET', '/v1/destinations', { signal }),
  getDestination: (id: string, signal?: Sig) => request<Destination>('GET', `/v1/destinations/${enc(id)}`, { signal }),
  createDestination: (body: NewDestination) => request<CreatedDestination>('POST', '/v1/destinations', { body }),
  updateDestination: (id: string, body: DestinationChanges) =>
    request<Destination>('PATCH', `/v1/destinations/${enc(id)}`, { body }),
  deleteDestination: (id: string) => request<Answer<'/v1/destinations/{id}', 'delete'>>('DELETE', `/v1/destinations/${enc(id)}`),
  testDestination: (id: string) => request<TestResult>('POST', `/v1/destinations/${enc(id)}/test`),
  rotateSecret: (id: string) => request<RotatedSecret>('POST', `/v1/destinations/${enc(id)}/rotate-secret`),
  /** GET /v1/destinations/{id}/secret: its current signing secret (readable at any time). */
  getDestinationSecret: (id: string) => request<DestinationSecret>('GET', `/v1/destinations/${enc(id)}/secret`),

  listDomains: (signal?: Sig) => request<Answer<'/v1/domains', 'get'>>('GET', '/v1/domains', { signal }),
  addDomain: (domain: string) => request<Domain>('POST', '/v1/domains', { body: { domain } }),
  verifyDomain: (domain: string) => request<Domain>('POST', '/v1/domains/verify', { body: { domain } }),

  listEvents: (p: { limit?: number; cursor?: string | null }, signal?: Sig) =>
    request<Answer<'/v1/events', 'get'>>('GET', `/v1/events${query({ limit: p.limit, cursor: p.cursor })}`, { signal }),
  getEvent: (id: string, signal?: Sig) => request<EventDetail>('GET', `/v1/events/${enc(id)}`, { signal }),
};

/** Counts the deliveries matching `filter` by paging (there is no count endpoint); stops at `cap`. */
export async function countDeliveries(filter: DeliveryFilter, cap: number, signal?: Sig): Promise<{ count: number; capped: boolean }> {
  let count = 0;
  let cursor: string | null = null;
  do {
    const page: Page<DeliverySummary> = await api.listDeliveries({ ...filter, limit: 100, cursor }, signal);
    count += page.data.length;
    cursor = page.next_cursor;
    if (count >= cap && cursor) return { count, capped: true };
  } while (cursor);
  return { count, capped: false };
}
