/**
 * The dashboard's front-end, as built by `npm run build` into dist/dashboard: index.html at
 * /dashboard and /dashboard/ (never cached: it names the current assets), and the files of
 * dist/dashboard/assets at /dashboard/assets/<file> (cached for a year when their name carries
 * a content hash). Only plain file names of known types are served: no paths, so no traversal.
 * index.html carries the portal's name and accent colour when they are set (portal.ts).
 *
 * Not @fastify/static: this needs its own content types (its `mime` says application/javascript
 * and image/vnd.microsoft.icon), Cache-Control by content hash, a file-type allow-list and the
 * API's JSON 404 — and its `send` answers conditional requests on its own even with ETag and
 * Last-Modified off (If-None-Match: * → 304, If-Match → 412), where these answers are always 200.
 * What would be left for it is the createReadStream below.
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { notFound } from '../errors.js';
import { DEFAULT_PORTAL, type PortalSettings, brandIndexHtml } from './portal.js';

/**
 * <package root>/dist/dashboard, found by walking up from this module to Harepost's package.json:
 * the module is src/api/dashboard/ under tsx (tests, dev) and dist/api/dashboard/ when built.
 */
export function defaultDashboardDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'harepost') {
      return join(dir, 'dist', 'dashboard');
    }
    const parent = dirname(dir);
    if (parent === dir) return join(fileURLToPath(new URL('../../../', import.meta.url)), 'dist', 'dashboard');
    dir = parent;
  }
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
};

/** One path segment of ordinary characters, not starting with a dot: `..`, `/`, `\` and NUL never pass. */
const PLAIN_FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$/;

/** `index-B4x9Qa1z.js`, `index-B4x9Qa1z.js.map`: a bundler's content hash (8+ characters, with a digit or capital). */
function isHashed(name: string): boolean {
  const m = /[-.]([A-Za-z0-9_-]{8,})\.[a-z0-9]+(?:\.map)?$/.exec(name);
  return m !== null && /[0-9A-Z]/.test(m[1]!);
}

export const NOT_BUILT = 'dashboard not built: run npm run build\n';

async function sendIndex(dir: string, portal: PortalSettings, reply: FastifyReply): Promise<FastifyReply> {
  let html: string;
  try {
    html = brandIndexHtml(await readFile(join(dir, 'index.html'), 'utf8'), portal);
  } catch {
    return reply.code(503).type('text/plain; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT);
  }
  return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
}

/** `portal`: the product name and accent colour index.html is served with. */
export function staticRoutes(app: FastifyInstance, dir: string, portal: PortalSettings = DEFAULT_PORTAL): void {
  // '/' in the /dashboard scope answers both /dashboard and /dashboard/
  app.get('/', { schema: { hide: true } }, async (_request, reply) => sendIndex(dir, portal, reply));

  app.get<{ Params: { file: string } }>('/assets/:file', { schema: { hide: true } }, async (request, reply) => {
    const name = request.params.file;
    const type = CONTENT_TYPES[extname(name).toLowerCase()];
    if (!PLAIN_FILE_NAME.test(name) || name.includes('..') || type === undefined) throw notFound('File');
    const path = join(dir, 'assets', name);
    const info = await stat(path).catch(() => null);
    if (!info?.isFile()) throw notFound('File');
    return reply
      .type(type)
      .header('content-length', String(info.size))
      .header('cache-control', isHashed(name) ? 'public, max-age=31536000, immutable' : 'no-cache')
      .send(createReadStream(path));
  });
}
