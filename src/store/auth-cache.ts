/**
 * The answers every API request asks the store for, kept in this process's memory for 250 ms:
 * which caller an API key's hash belongs to (`authenticate`) and whether an account has one of
 * some domains verified (`hasVerifiedDomain`), only when they let the request in. Under load this
 * turns an authentication query and a domain query per request into about four of each per key
 * (and per account and target domain) per second.
 *
 * How changes show (README, "Guarantees"):
 * - Made through this process's store (the /v1 API, the dashboard, the operator API and the
 *   account eraser all share it): at once. Each method that changes a cached answer — revokeApiKey,
 *   updateAccount (suspend/resume), beginAccountErasure (its keys deleted), deleteDomain — drops
 *   the answers it touches when it returns, and a lookup already under way when it did is not kept.
 * - Made by another process (another `serve` on the same PostgreSQL, the CLI): within `ttlMs`,
 *   because no answer is used longer than that after the query that read it began. This is
 *   bounded staleness, not invalidation messages: it needs nothing from the other processes and
 *   works the same on both stores (SQLite has no LISTEN/NOTIFY, and the CLI, a process of its
 *   own, sends none). The promise is 1 s (README, "Guarantees"); 250 ms keeps well inside it,
 *   and inside the time a CLI command takes to start: an answer a service read before the
 *   command was run is gone by the time the command changes anything.
 * - Refusals are never kept: an unknown or revoked key, a suspended account's key and a domain
 *   not verified are asked again on every request, so a key made, an account resumed or a domain
 *   verified anywhere works on the next request, and unknown keys take no memory. The cache holds
 *   at most `maxEntries` answers of each kind, dropping the oldest first; entries are keyed by the
 *   key hash, or by account id and domains, so no account's answer can stand for another's.
 *
 * It wraps the store (cli/compose.ts), rather than living in api/auth.ts, so that every writer in
 * the process goes through the same object as the readers: the operator API revoking a key
 * invalidates what the /v1 API's auth hook reads, with nothing wired between them.
 */
import type { AccountsStore, AuthenticatedKey } from './accounts/types.js';
import type { DomainsStore } from './domains/types.js';

export interface AuthCacheOptions {
  /** How long an answer is used, from when the query that read it began (default 250 ms; at most 1 s is promised). */
  ttlMs?: number;
  /** Answers kept of each kind; past it the oldest goes (default 5000). */
  maxEntries?: number;
  /** A monotonic clock in ms (default performance.now). */
  now?: () => number;
}

/** How long an answer is used unless told otherwise. */
export const DEFAULT_TTL_MS = 250;

interface Entry<V> {
  value: V;
  /** When the query that read it began. */
  readAt: number;
}

/** One kind of answer: a bounded map of fresh values, and the lookups under way (one per key). */
class FreshAnswers<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly pending = new Map<string, Promise<V>>();
  /** Bumped by every invalidation: a lookup that began before one is not kept. */
  private generation = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number,
    /** Whether an answer may be kept (refusals are not). */
    private readonly keep: (value: V) => boolean,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  async get(key: string, read: () => Promise<V>): Promise<V> {
    const at = this.now();
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      if (at - hit.readAt < this.ttlMs) return hit.value;
      this.entries.delete(key);
    }
    const under = this.pending.get(key);
    if (under !== undefined) return under;
    const generation = this.generation;
    const lookup = read().then(
      (value) => {
        if (this.pending.get(key) === lookup) this.pending.delete(key);
        if (generation === this.generation && this.keep(value)) this.remember(key, { value, readAt: at });
        return value;
      },
      (err: unknown) => {
        if (this.pending.get(key) === lookup) this.pending.delete(key);
        throw err;
      },
    );
    this.pending.set(key, lookup);
    return lookup;
  }

  /** Drops the answers `matches` picks, and forgets the lookups under way. */
  forget(matches: (key: string, value: V) => boolean): void {
    this.generation++;
    this.pending.clear();
    for (const [key, entry] of this.entries) if (matches(key, entry.value)) this.entries.delete(key);
  }

  private remember(key: string, entry: Entry<V>): void {
    this.entries.delete(key); // re-inserted: the newest
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(key, entry);
  }
}

/** The cache of `authenticate` and `hasVerifiedDomain` answers in front of one store. */
export class AuthCache {
  private readonly keys: FreshAnswers<AuthenticatedKey | null>;
  private readonly domains: FreshAnswers<boolean>;

  constructor(
    private readonly store: Pick<AccountsStore, 'authenticate'> & Pick<DomainsStore, 'hasVerifiedDomain'>,
    options: AuthCacheOptions = {},
  ) {
    const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    const maxEntries = options.maxEntries ?? 5000;
    const now = options.now ?? (() => performance.now());
    this.keys = new FreshAnswers(ttlMs, maxEntries, now, (auth) => auth !== null && !auth.suspended);
    this.domains = new FreshAnswers(ttlMs, maxEntries, now, (verified) => verified);
  }

  /** Answers kept now (keys, domains). */
  get size(): { keys: number; domains: number } {
    return { keys: this.keys.size, domains: this.domains.size };
  }

  authenticate(keyHash: string): Promise<AuthenticatedKey | null> {
    return this.keys.get(keyHash, () => this.store.authenticate(keyHash));
  }

  hasVerifiedDomain(accountId: string, domains: readonly string[]): Promise<boolean> {
    return this.domains.get(domainsKey(accountId, domains), () => this.store.hasVerifiedDomain(accountId, domains));
  }

  /** A key was revoked. */
  forgetKey(keyId: string): void {
    this.keys.forget((_, auth) => auth?.key_id === keyId);
  }

  /** An account was changed (suspended, resumed) or its erasure began: its keys' and domains' answers. */
  forgetAccount(accountId: string): void {
    this.keys.forget((_, auth) => auth?.account_id === accountId);
    this.forgetDomains(accountId);
  }

  /** One of the account's domains was deleted. */
  forgetDomains(accountId: string): void {
    const prefix = domainsKey(accountId, []);
    this.domains.forget((key) => key.startsWith(prefix));
  }
}

/** Account id, then the domains; NUL cannot occur in either. */
function domainsKey(accountId: string, domains: readonly string[]): string {
  return `${accountId}\0${domains.join('\0')}`;
}

/** The AuthCache behind a store made by withAuthCache (tests, diagnostics). */
export const AUTH_CACHE = Symbol('authCache');

/** The AuthCache behind `store`, or null when it has none. */
export function authCacheOf(store: object): AuthCache | null {
  return ((store as Record<symbol, unknown>)[AUTH_CACHE] as AuthCache | undefined) ?? null;
}

/**
 * What each method that changes a cached answer drops once it returns (resolved or not: a
 * failure may still have committed). markDomainVerified, createApiKey and resuming an account
 * change only answers that are never kept (not verified, unknown key, suspended); addDomain adds a
 * pending domain, which answers nothing. eraseAccountStep deletes the domains of an account whose
 * keys beginAccountErasure already deleted (and whose answers it dropped): nobody can be answered
 * for that account any more.
 */
type CachedStore = AccountsStore & DomainsStore;
const INVALIDATIONS: { [M in keyof CachedStore]?: (cache: AuthCache, ...args: Parameters<CachedStore[M]>) => void } = {
  revokeApiKey: (cache, keyId) => cache.forgetKey(keyId),
  updateAccount: (cache, accountId) => cache.forgetAccount(accountId),
  beginAccountErasure: (cache, accountId) => cache.forgetAccount(accountId),
  deleteDomain: (cache, accountId) => cache.forgetDomains(accountId),
};

/**
 * The same store, with `authenticate` and `hasVerifiedDomain` answered through an AuthCache and
 * the methods in INVALIDATIONS dropping what they change. Every other member is the store's own.
 */
export function withAuthCache<S extends CachedStore>(store: S, options: AuthCacheOptions = {}): S {
  const cache = new AuthCache(store, options);
  const own = new Map<PropertyKey, unknown>([
    ['authenticate', cache.authenticate.bind(cache)],
    ['hasVerifiedDomain', cache.hasVerifiedDomain.bind(cache)],
  ]);
  for (const [name, drop] of Object.entries(INVALIDATIONS)) {
    const method = store[name as keyof CachedStore] as (...a: unknown[]) => Promise<unknown>;
    const invalidate = drop as (cache: AuthCache, ...a: unknown[]) => void;
    own.set(name, (...args: unknown[]) => method.apply(store, args).finally(() => invalidate(cache, ...args)));
  }
  own.set(AUTH_CACHE, cache);
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop) {
      if (own.has(prop)) return own.get(prop);
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      let b = bound.get(prop);
      if (b === undefined) {
        b = (value as (...a: unknown[]) => unknown).bind(target);
        bound.set(prop, b);
      }
      return b;
    },
  });
}
