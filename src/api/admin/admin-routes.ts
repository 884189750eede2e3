/**
 * The operator API, /admin/v1, in a Fastify scope of its own: enabled only by HAREPOST_ADMIN_TOKEN
 * (without it nothing is registered, so every /admin path is an ordinary 404 and the OpenAPI
 * document does not mention it), and guarded by that token alone — API keys and dashboard
 * sessions open nothing here.
 */
import type { FastifyInstance } from 'fastify';
import { typedBySchemas } from '../schemas/provider.js';
import { accessRoutes } from './access.js';
import { accountRoutes } from './accounts.js';
import { installAdminAuth } from './admin-auth.js';
import type { AdminApiOptions } from './options.js';

export type { AdminApiOptions } from './options.js';

export function registerAdminApi(app: FastifyInstance, options: AdminApiOptions): void {
  void app.register(
    async (scope) => {
      installAdminAuth(scope, options.token);
      const admin = typedBySchemas(scope); // request and reply types from each route's schema
      accountRoutes(admin, options);
      accessRoutes(admin, options);
    },
    { prefix: '/admin/v1' },
  );
}
