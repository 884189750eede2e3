/**
 * The dashboard's session cookie. HttpOnly (scripts never see the session id), SameSite=Strict
 * (no other site's page can send it), Path=/dashboard (the /v1 API never receives it), Secure
 * when the request came over https (directly or, per X-Forwarded-Proto, through a TLS proxy). Read by hand: one cookie does not need a dependency.
 */
import type { FastifyRequest } from 'fastify';
import { SESSION_TTL_MS } from '../../core/dashboard-tokens.js';

export const SESSION_COOKIE = 'harepost_session';

function attributes(request: FastifyRequest, maxAgeSeconds: number): string {
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
export function sessionCookie(request: FastifyRequest, sessionId: string, lifetimeMs = SESSION_TTL_MS): string {
  return `${SESSION_COOKIE}=${sessionId}; ${attributes(request, Math.max(1, Math.ceil(lifetimeMs / 1000)))}`;
}

/** Set-Cookie that makes the browser forget the session at once. */
export function clearedSessionCookie(request: FastifyRequest): string {
  return `${SESSION_COOKIE}=; ${attributes(request, 0)}`;
}

/** The session id the browser sent, if any (the first harepost_session cookie). */
export function presentedSession(request: FastifyRequest): string | null {
  const header = request.headers.cookie;
  if (typeof header !== 'string') return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    return value === '' ? null : value;
  }
  return null;
}
