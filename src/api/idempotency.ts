/**
 * The Idempotency-Key HTTP header (SPEC §4): a POST carrying one is executed once per
 * (account, mode, key) for 24 h. A repeat with the same body gets the first response again;
 * with a different body, 409. The response is recorded in the same commit as what it created,
 * so two identical requests racing create one thing.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { canonicalJson } from '../core/canonical-json.js';
import type { EnqueueOptions, IdempotentResponse, DeliveryQueueStore } from '../store/store.js';
import { ApiError, badRequest } from './errors.js';

export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
const HEADER = 'idempotency-key';

export interface Idempotency {
  key: string;
  requestHash: string;
  /** The window's start on this process's clock; PostgreSQL applies it to the database's (store.ts). */
  notBefore: number;
}

/** The request's Idempotency-Key, validated, with a hash of what is being asked; null if absent. */
export function idempotencyOf(request: FastifyRequest, operation: string): Idempotency | null {
  const raw = request.headers[HEADER];
  if (raw === undefined) return null;
  const key = Array.isArray(raw) ? raw[0] : raw;
  if (typeof key !== 'string' || key.length === 0 || key.length > 255 || !/^[\x20-\x7e]+$/.test(key)) {
    throw badRequest('Idempotency-Key', 'Idempotency-Key must be 1 to 255 printable ASCII characters');
  }
  const requestHash = createHash('sha256')
    .update(`${operation}\n${canonicalJson(request.body ?? null)}`)
    .digest('hex');
  return { key, requestHash, notBefore: Date.now() - IDEMPOTENCY_WINDOW_MS };
}

/** Answers with a recorded response, or 409 when the key was used for a different request. */
export function replay(reply: FastifyReply, idem: Idempotency, recorded: IdempotentResponse): FastifyReply {
  if (recorded.request_hash !== idem.requestHash) {
    throw new ApiError(
      409,
      'idempotency_key_reused',
      'This Idempotency-Key was already used with a different request; use a new key for a new request',
      'Idempotency-Key',
    );
  }
  return reply
    .code(recorded.status_code)
    .header('idempotent-replayed', 'true')
    .type('application/json; charset=utf-8')
    .send(recorded.response);
}

/** Replays the earlier response if the key was already used. True when it answered. */
export async function replayIfUsed(
  store: DeliveryQueueStore,
  request: FastifyRequest,
  reply: FastifyReply,
  idem: Idempotency | null,
): Promise<boolean> {
  if (idem === null) return false;
  const found = await store.findIdempotentResponse(request.auth.account_id, request.auth.mode, idem.key, idem.notBefore);
  if (!found) return false;
  replay(reply, idem, found);
  return true;
}

/** What the store records with the work it commits, so a repeat gets this same 202 back. */
export function recordAs(idem: Idempotency | null, response: unknown, createdAt: number): EnqueueOptions {
  if (idem === null) return {};
  return {
    idempotency: {
      key: idem.key,
      request_hash: idem.requestHash,
      status_code: 202,
      response: JSON.stringify(response),
      created_at: createdAt,
    },
    idempotencyNotBefore: idem.notBefore,
  };
}
