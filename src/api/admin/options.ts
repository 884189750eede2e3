/**
 * What the operator API is given (see admin-routes.ts). Its own module so admin-routes.ts and the
 * route files it registers (accounts.ts, access.ts) do not import each other.
 */
import type { LimitDefaults } from '../../core/limits.js';
import type { Store } from '../../store/store.js';
import type { AccountEraser } from './account-eraser.js';

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
