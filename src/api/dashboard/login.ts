/**
 * Signing in with a one-time link of `harepost login-link` (or `harepost dev`), in two steps:
 *
 * - `GET /dashboard/login?token=…` only shows a page with a "Sign in" button: opening the link
 *   uses nothing up, so a mail or chat scanner that fetches it cannot spend it.
 * - That button POSTs the token to `/dashboard/login`. The POST must come from a page of this
 *   same site (its Origin names this host): another site cannot sign a visitor in to an account
 *   of its choosing (login CSRF). The token is used up and a session opened in one transaction;
 *   the browser gets the session cookie and goes on to /dashboard/.
 *
 * Any token that does not work — unknown, used, expired, malformed — gets the same page: nothing
 * tells a guesser which.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SESSION_TTL_MS, hashDashboardSecret, isDashboardSecret, newDashboardSecret } from '../../core/dashboard-tokens.js';
import type { DashboardStore } from '../../store/store.js';
import { sessionCookie } from './cookie.js';
import { DEFAULT_PORTAL, type PortalSettings, accentProperties, escapeHtml, isEmbeddable } from './portal.js';

/** A page in the portal's name and colour (both validated settings; the name is escaped). */
const page = (portal: PortalSettings, title: string, body: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · ${escapeHtml(portal.title)}</title>
<style>${portal.accent === null ? '' : `:root{${accentProperties(portal.accent)}}`}body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#f2f2f2;padding:.1rem .3rem;border-radius:3px}button{font:inherit;padding:.5rem 1.2rem;border-radius:6px;border:1px solid var(--accent,#1f2937);background:var(--accent,#1f2937);color:var(--on-accent,#fff);cursor:pointer}button:focus-visible{outline:3px solid #2563eb;outline-offset:2px}</style>
</head>
<body>
${body}
</body>
</html>
`;

/** The page of a link that does not work (used, expired, unknown, malformed): it never says which. */
export function linkRefusedPage(portal: PortalSettings): string {
  const ask =
    portal.title === DEFAULT_PORTAL.title
      ? 'Please ask for a new link: whoever runs this Harepost makes one with <code>harepost login-link --account ACCOUNT_ID</code>.'
      : 'Please ask whoever gave you this link for a new one.';
  return page(
    portal,
    'Sign-in link not valid',
    `<h1>This sign-in link cannot be used</h1>
<p>A dashboard sign-in link works once, within 15 minutes of being made. ${ask}</p>`,
  );
}

/** The page of a sign-in POST that did not come from the sign-in page itself (login CSRF). */
export function crossSitePage(portal: PortalSettings): string {
  return page(
    portal,
    'Sign-in refused',
    `<h1>Sign-in refused</h1>
<p>Signing in must start from ${portal.title === DEFAULT_PORTAL.title ? "this Harepost's own sign-in page" : 'the sign-in page your link opens'}. Open your sign-in link again and press the button there.</p>`,
  );
}

export const LINK_REFUSED_PAGE = linkRefusedPage(DEFAULT_PORTAL);
export const CROSS_SITE_PAGE = crossSitePage(DEFAULT_PORTAL);

/** The page a link opens: one button that signs in (the token is base64url: safe in an attribute). */
export function confirmPage(token: string, portal: PortalSettings = DEFAULT_PORTAL): string {
  return page(
    portal,
    'Sign in',
    `<h1>Sign in to the ${escapeHtml(portal.title)} dashboard</h1>
<p>This link signs this browser in. It works once.</p>
<form method="post" action="/dashboard/login">
<input type="hidden" name="token" value="${token}">
<button type="submit" id="sign-in" autofocus>Sign in</button>
</form>`,
  );
}

/**
 * True when the POST came from a page of this very site: the browser says so in Sec-Fetch-Site
 * (a header no page can set), or its Origin names this host. Under the dashboard's
 * `Referrer-Policy: no-referrer` browsers send `Origin: null` on a form POST, so Sec-Fetch-Site
 * is what modern browsers are judged by.
 */
function sameOrigin(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (site === 'same-origin') return true;
  if (typeof site === 'string') return false; // cross-site, same-site (another port or subdomain), none
  const origin = request.headers.origin;
  const host = request.headers.host;
  if (typeof origin !== 'string' || typeof host !== 'string') return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false; // includes "null"
  }
}

export function loginRoute(app: FastifyInstance, store: DashboardStore, portal: PortalSettings = DEFAULT_PORTAL): void {
  const refused = linkRefusedPage(portal);
  const crossSite = crossSitePage(portal);
  const cookieSite = isEmbeddable(portal) ? 'embedded' : 'strict';
  void app.register(async (login) => {
    // the sign-in form posts application/x-www-form-urlencoded (here only)
    login.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    // no automatic HEAD (a link checker's HEAD gets 404); GET spends nothing either way
    login.get('/login', { schema: { hide: true }, exposeHeadRoute: false }, async (request, reply) => {
      const token = (request.query as Record<string, unknown>).token;
      void reply.header('cache-control', 'no-store').type('text/html; charset=utf-8');
      if (!isDashboardSecret(token)) return reply.code(401).send(refused);
      return reply.code(200).send(confirmPage(token, portal));
    });

    login.post('/login', { schema: { hide: true } }, async (request, reply) => {
      void reply.header('cache-control', 'no-store').type('text/html; charset=utf-8');
      if (!sameOrigin(request)) return reply.code(403).send(crossSite);
      const body = request.body as Record<string, unknown> | undefined;
      const token = body && typeof body === 'object' ? body.token : undefined;
      const now = Date.now();
      const sessionId = newDashboardSecret();
      const session = isDashboardSecret(token)
        ? await store.redeemLoginToken(
            hashDashboardSecret(token),
            { id_hash: hashDashboardSecret(sessionId), csrf_token: newDashboardSecret(), created_at: now, expires_at: now + SESSION_TTL_MS },
            now,
          )
        : null;
      if (session === null) return reply.code(401).send(refused);
      return reply
        .code(303)
        .header('set-cookie', sessionCookie(request, sessionId, SESSION_TTL_MS, cookieSite))
        .header('location', '/dashboard/')
        .send();
    });
  });
}
