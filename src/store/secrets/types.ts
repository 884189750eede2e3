/** The signing secrets of an account's sends (per mode), and their rotation. Destinations keep their own (destinations.ts). */
import { areaMethods } from '../compose.js';
import type { KeyMode } from '../../core/api-keys.js';

export interface SigningSecret {
  secret: string;
  created_at: number;
  /** When a rotation replaced it; null for the current secret. */
  retired_at: number | null;
}

/** An account's signing secrets for sends. */
export interface SigningSecretsStore {
  /** The current secret and any retired after `retiredAfter`, newest first. */
  getSigningSecrets(accountId: string, mode: KeyMode, retiredAfter: number): Promise<SigningSecret[]>;
  /** Stores `candidate` as the current secret unless there is one; returns the current one. */
  ensureSigningSecret(accountId: string, mode: KeyMode, candidate: SigningSecret): Promise<SigningSecret>;
  /** Retires the current secret (at `next.created_at`) and makes `next` current, atomically. */
  rotateSigningSecret(accountId: string, mode: KeyMode, next: SigningSecret): Promise<void>;
}

/** SigningSecretsStore's methods, named once for both dialects' stores (see compose.ts). */
export const SIGNING_SECRETS_STORE_METHODS = areaMethods<SigningSecretsStore>()(['getSigningSecrets', 'ensureSigningSecret', 'rotateSigningSecret']);
