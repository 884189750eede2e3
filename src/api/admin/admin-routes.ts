/**
 * The operator API, /admin/v1, in a Fastify scope of its own: enabled only by HAREPOST_ADMIN_TOKEN
 * (without it nothing is registered, so every /admin path is an ordinary 404 and the OpenAPI
 * document does not mention it), and guarded by that token alone — API keys and dashboard
 * sessions open nothing here.
 */
import type { FastifyInstance } from 'fastify';
import type { LimitDefaults } from '../../core/limits.js';
import type { Store } from '../../store/store.js';
import { accessRoutes } from './access.js';
import type { AccountEraser } from './account-eraser.js';
import { accountRoutes } from './accounts.js';
import { installAdminAuth } from './admin-auth.js';

export interface AdminApiOptions {
  store: Store;
  /** HAREPOST_ADMIN_TOKEN. */
  token: string;
  /** The operator's default limits (HAREPOST_MAX_*): accounts are shown with their effective limits. */
  limitDefaults: LimitDefaults;
  /** Where customers reach this Harepost, the base of login links: HAREPOST_PUBLIC_URL, else where it listens. */
  publicUrl: () => string;
  /** Runs erasures in the background. */
  eraser: AccountEraser;
}

export function registerAdminApi(app: FastifyInstance, options: AdminApiOptions): void {
  void app.register(
    async (admin) => {
      installAdminAuth(admin, options.token);
      accountRoutes(admin, options);
      accessRoutes(admin, options);
    },
    { prefix: '/admin/v1' },
  );
}
