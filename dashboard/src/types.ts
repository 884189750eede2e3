/**
 * JSON shapes of the dashboard API (/dashboard/api/…) and of the /v1 API it mirrors, by the names the
 * dashboard uses. The /v1 shapes are named from ./api-types.ts, which `npm run gen:api-types` generates
 * from GET /openapi.json (the route schemas that validate and serialise every answer): none is copied
 * here. The dashboard's own routes (/dashboard/api/{session,overview,…}), kept out of /openapi.json,
 * are in ./api-types.ts too: the generator adds them from their schemas (src/api/schemas/dashboard.ts).
 */
import type { paths } from './api-types';

type Method = 'get' | 'post' | 'patch' | 'delete';
/** The JSON body of `path`'s `method` answered with HTTP `status`. */
export type Answer<P extends keyof paths, M extends Method, S extends number = 200> = paths[P][M] extends { responses: infer R }
  ? S extends keyof R
    ? R[S] extends { content: { 'application/json': infer T } }
      ? T
      : never
    : never
  : never;
/** The JSON request body `path`'s `method` takes. */
export type RequestBody<P extends keyof paths, M extends Method> = paths[P][M] extends {
  requestBody?: { content: { 'application/json': infer T } };
}
  ? NonNullable<T>
  : never;
/** The query parameters `path`'s `method` takes. */
type Query<P extends keyof paths, M extends Method> = paths[P][M] extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

/** GET /dashboard/api/session: who is signed in, and the CSRF token to send back. */
export type Session = Answer<'/dashboard/api/session', 'get'>;
export type Mode = Session['mode'];

/** GET /dashboard/api/overview: the last hour. */
export type Overview = Answer<'/dashboard/api/overview', 'get'>;
/** In the window: deliveries accepted, and the status each attempt left its delivery in. */
export type OverviewCount = keyof Overview['deliveries'];

export type DeliverySummary = Answer<'/v1/deliveries', 'get'>['data'][number];
export type DeliveryDetail = Answer<'/v1/deliveries/{id}', 'get'>;
export type DeliveryPolicy = DeliveryDetail['delivery'];
export type Attempt = DeliveryDetail['attempts'][number];
export type AttemptOutcome = Attempt['outcome'];

export type DeliveryStatus = DeliverySummary['status'];
/** Every status, in the order the status filter offers them: a status the API adds is a type error here until it is listed. */
const LISTED: { readonly [S in DeliveryStatus]: true } = { queued: true, retrying: true, delivered: true, rejected: true, dead_letter: true };
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = Object.keys(LISTED) as DeliveryStatus[];
export const FINAL_STATUSES: readonly DeliveryStatus[] = ['delivered', 'rejected', 'dead_letter'];
export const REPLAYABLE_STATUSES: readonly DeliveryStatus[] = ['dead_letter', 'rejected'];

/** One page of a list (GET /v1/deliveries, GET /v1/events). */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export type Destination = Answer<'/v1/destinations/{id}', 'get'>;
export type CreatedDestination = Answer<'/v1/destinations', 'post', 201>;
export type NewDestination = RequestBody<'/v1/destinations', 'post'>;
export type DestinationChanges = RequestBody<'/v1/destinations/{id}', 'patch'>;
export type RateLimit = NonNullable<Destination['rate_limit']>;
/** How a destination's deliveries are signed: a scheme's name, or a custom header set through the API. */
export type SignatureScheme = Destination['signature'];
export type SchemeName = Extract<SignatureScheme, string>;
/** GET /v1/destinations/{id}/secret */
export type DestinationSecret = Answer<'/v1/destinations/{id}/secret', 'get'>;
export type RotatedSecret = Answer<'/v1/destinations/{id}/rotate-secret', 'post'>;
export type TestResult = Answer<'/v1/destinations/{id}/test', 'post'>;

export type Domain = Answer<'/v1/domains', 'get'>['data'][number];

export type EventSummary = Answer<'/v1/events', 'get'>['data'][number];
export type EventDetail = Answer<'/v1/events/{id}', 'get'>;

/** POST /v1/deliveries/retry */
export type BulkReplayFilter = RequestBody<'/v1/deliveries/retry', 'post'>;

/** The filters of GET /v1/deliveries the dashboard offers. */
export type DeliveryFilter = Pick<Query<'/v1/deliveries', 'get'>, 'status' | 'destination_id' | 'event_id' | 'idempotency_key'>;
