/**
 * The dashboard's own API (/dashboard/api/{session,session/mode,logout,overview}) as JSON schemas:
 * its request body and answers. The routes are kept out of /openapi.json (a browser's session, not
 * an API key, calls them), so `dashboardApiPaths` describes them as OpenAPI paths for
 * scripts/gen-api-types.ts, which adds them to the dashboard's generated types.
 */
import { timestamp } from './common.js';

const mode = { type: 'string', enum: ['live', 'test'] } as const;

/** POST /dashboard/api/session/mode */
export const modeRequest = {
  type: 'object',
  required: ['mode'],
  additionalProperties: false,
  properties: { mode },
} as const;

/** GET /dashboard/api/session (and POST …/session/mode): who is signed in, and the CSRF token to send back. */
export const dashboardSession = {
  type: 'object',
  required: ['account_id', 'mode', 'csrf_token', 'expires_at'],
  properties: { account_id: { type: 'string' }, mode, csrf_token: { type: 'string' }, expires_at: timestamp },
} as const;

const count = { type: 'integer' } as const;

/** GET /dashboard/api/overview: the last hour. */
export const overview = {
  type: 'object',
  required: ['since', 'until', 'deliveries', 'dead_letter_count', 'series'],
  properties: {
    since: timestamp,
    until: timestamp,
    deliveries: {
      type: 'object',
      description: 'In the window: deliveries accepted, and the status each attempt left its delivery in.',
      required: ['accepted', 'delivered', 'retrying', 'rejected', 'dead_letter'],
      properties: { accepted: count, delivered: count, retrying: count, rejected: count, dead_letter: count },
    },
    dead_letter_count: count,
    series: {
      type: 'array',
      items: {
        type: 'object',
        required: ['at', 'attempts', 'failures'],
        properties: { at: timestamp, attempts: count, failures: count },
      },
    },
  },
} as const;

const json = (description: string, schema: object) => ({ description, content: { 'application/json': { schema } } });

/** The routes above as OpenAPI paths (for the dashboard's generated types only). */
export const dashboardApiPaths = {
  '/dashboard/api/session': { get: { responses: { 200: json('The session.', dashboardSession) } } },
  '/dashboard/api/session/mode': {
    post: {
      requestBody: { required: true, content: { 'application/json': { schema: modeRequest } } },
      responses: { 200: json('The session, in that mode.', dashboardSession) },
    },
  },
  '/dashboard/api/logout': { post: { responses: { 204: { description: 'Signed out.' } } } },
  '/dashboard/api/overview': { get: { responses: { 200: json('The last hour.', overview) } } },
};
