/**
 * The dashboard's session cookie. HttpOnly (scripts never see the session id), Path=/dashboard
 * (the /v1 API never receives it), and one of two site policies:
 *
 * - `strict` (the default, no HAREPOST_PORTAL_FRAME_ANCESTORS): SameSite=Strict, so no other
 *   site's page can make the browser send it; Secure when the request came over https (directly
 *   or, per X-Forwarded-Proto, through a TLS proxy).
 * - `embedded` (frame ancestors configured): SameSite=None; Secure; Partitioned. Inside a
 *   cross-site iframe a browser sends no Strict or Lax cookie, and blocks unpartitioned
 *   third-party ones more and more; a Partitioned (CHIPS) cookie is kept per top-level site, so
 *   the one set inside the customer's portal is sent only inside pages of that portal's site (and
 *   never to another site that frames or links to Harepost). SameSite=None needs Secure, so it is
 *   always set: browsers accept it over https, and over plain http only from localhost/127.0.0.1.
 *   CSRF tokens and the Sec-Fetch-Site check (session-auth.ts) guard every change.
 *
 * @fastify/cookie parses the Cookie header (request.cookies); the Set-Cookie values are written
 * here, not with its reply.setCookie: its serialiser puts the attributes in an order of its own
 * (`Max-Age; Path; HttpOnly; Secure; Partitioned; SameSite`) and its clearCookie adds an `Expires`,
 * and the header keeps the exact form it has always had.
 */
import type { FastifyCookieOptions } from '@fastify/cookie';
import type { FastifyRequest } from 'fastify';
import { SESSION_TTL_MS } from '../../core/dashboard-tokens.js';

export const SESSION_COOKIE = 'harepost_session';

/** `strict`: SameSite=Strict, the dashboard is never framed; `embedded`: it may be, in another site's iframe. */
export type CookieSite = 'strict' | 'embedded';

function attributes(request: FastifyRequest, maxAgeSeconds: number, site: CookieSite): string {
  if (site === 'embedded') return `HttpOnly; SameSite=None; Secure; Partitioned; Path=/dashboard; Max-Age=${maxAgeSeconds}`;
  // Behind a proxy that ends TLS, its X-Forwarded-Proto says https. Trusting it can only make the
  // cookie stricter (a Secure cookie is never sent over plain http), so no trust setting is needed.
  const forwarded = String(request.headers['x-forwarded-proto'] ?? '').split(',')[0]!.trim().toLowerCase();
  const secure = request.protocol === 'https' || forwarded === 'https' ? '; Secure' : '';
  return `HttpOnly; SameSite=Strict; Path=/dashboard; Max-Age=${maxAgeSeconds}${secure}`;
}

/**
 * Set-Cookie for a new session: it lasts as long as the session does (`lifetimeMs`, a whole
 * session unless given: a session that changed mode keeps the end it had).
 */
export function sessionCookie(request: FastifyRequest, sessionId: string, lifetimeMs = SESSION_TTL_MS, site: CookieSite = 'strict'): string {
  return `${SESSION_COOKIE}=${sessionId}; ${attributes(request, Math.max(1, Math.ceil(lifetimeMs / 1000)), site)}`;
}

/**
 * Set-Cookie that makes the browser forget the session at once (with the attributes it was set
 * with: a partitioned cookie is only replaced by a partitioned one).
 */
export function clearedSessionCookie(request: FastifyRequest, site: CookieSite = 'strict'): string {
  return `${SESSION_COOKIE}=; ${attributes(request, 0, site)}`;
}

/**
 * How @fastify/cookie parses the Cookie header: values as sent, never percent-decoded (a session
 * id is base64url; `%41` is not an `A`). The plugin hands these to cookie's parse, which reads
 * `decode`; its types call them serialize options, hence the cast.
 */
export const COOKIE_PARSE_OPTIONS = { decode: (value: string) => value } as unknown as FastifyCookieOptions['parseOptions'];

/** The session id the browser sent, if any (the first harepost_session cookie, as @fastify/cookie parsed it). */
export function presentedSession(request: FastifyRequest): string | null {
  const value = request.cookies[SESSION_COOKIE];
  return value === undefined || value === '' ? null : value;
}
