/**
 * Who may call /admin/v1: whoever sends `Authorization: Bearer <HAREPOST_ADMIN_TOKEN>`. The token
 * is compared in constant time over SHA-256 digests (sameSecret), so neither its content nor its
 * length shows in the timing; it is never logged (headers are not logged) nor put in an answer.
 * The check runs before the body is read: a caller without the token learns nothing else.
 */
import type { FastifyInstance } from 'fastify';
import { sameSecret } from '../../core/dashboard-tokens.js';
import { ApiError } from '../errors.js';

/** The bearer token in Authorization, or null. */
function bearer(header: unknown): string | null {
  if (typeof header !== 'string') return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

export function installAdminAuth(app: FastifyInstance, token: string): void {
  app.addHook('onRequest', async (request) => {
    const presented = bearer(request.headers.authorization);
    if (presented === null) {
      throw new ApiError(401, 'unauthorized', 'Missing admin token: send "Authorization: Bearer <HAREPOST_ADMIN_TOKEN>"');
    }
    if (!sameSecret(presented, token)) {
      throw new ApiError(401, 'unauthorized', 'The admin token is wrong: send the value of HAREPOST_ADMIN_TOKEN (API keys do not work here)');
    }
  });
}
