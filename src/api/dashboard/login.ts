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
import type { Store } from '../../store/store.js';
import { sessionCookie } from './cookie.js';

const page = (title: string, body: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Harepost</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#f2f2f2;padding:.1rem .3rem;border-radius:3px}button{font:inherit;padding:.5rem 1.2rem;border-radius:6px;border:1px solid #1f2937;background:#1f2937;color:#fff;cursor:pointer}button:focus-visible{outline:3px solid #2563eb;outline-offset:2px}</style>
</head>
<body>
${body}
</body>
</html>
`;

export const LINK_REFUSED_PAGE = page(
  'Sign-in link not valid',
  `<h1>This sign-in link cannot be used</h1>
<p>A dashboard sign-in link works once, within 15 minutes of being made. Please ask for a new link:
whoever runs this Harepost makes one with <code>harepost login-link --account ACCOUNT_ID</code>.</p>`,
);

export const CROSS_SITE_PAGE = page(
  'Sign-in refused',
  `<h1>Sign-in refused</h1>
<p>Signing in must start from this Harepost's own sign-in page. Open your sign-in link again and press the button there.</p>`,
);

/** The page a link opens: one button that signs in (the token is base64url: safe in an attribute). */
export function confirmPage(token: string): string {
  return page(
    'Sign in',
    `<h1>Sign in to the Harepost dashboard</h1>
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

export function loginRoute(app: FastifyInstance, store: Store): void {
  void app.register(async (login) => {
    // the sign-in form posts application/x-www-form-urlencoded (here only)
    login.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    // no automatic HEAD (a link checker's HEAD gets 404); GET spends nothing either way
    login.get('/login', { schema: { hide: true }, exposeHeadRoute: false }, async (request, reply) => {
      const token = (request.query as Record<string, unknown>).token;
      void reply.header('cache-control', 'no-store').type('text/html; charset=utf-8');
      if (!isDashboardSecret(token)) return reply.code(401).send(LINK_REFUSED_PAGE);
      return reply.code(200).send(confirmPage(token));
    });

    login.post('/login', { schema: { hide: true } }, async (request, reply) => {
      void reply.header('cache-control', 'no-store').type('text/html; charset=utf-8');
      if (!sameOrigin(request)) return reply.code(403).send(CROSS_SITE_PAGE);
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
      if (session === null) return reply.code(401).send(LINK_REFUSED_PAGE);
      return reply.code(303).header('set-cookie', sessionCookie(request, sessionId)).header('location', '/dashboard/').send();
    });
  });
}
