/**
 * The in-process cache of authentication and verified-domain answers (src/store/auth-cache.ts),
 * over a fake store and a fake clock: answers are reused for less than 1 s from the query that
 * read them; each method that changes them, called through the cached store, drops them at once
 * (a lookup under way then is not kept); refusals (unknown or revoked key, suspended account,
 * domain not verified) are never kept; by default answers live 250 ms; the cache is bounded;
 * one account's answer never stands for another's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authCacheOf, withAuthCache } from '../../src/store/auth-cache.js';
import type { AccountsStore, AuthenticatedKey, DomainsStore } from '../../src/store/store.js';

interface FakeKey {
  key_id: string;
  account_id: string;
  revoked: boolean;
}

/** What the database holds; changing it directly is "another process" changing it. */
class FakeDatabase {
  keys = new Map<string, FakeKey>(); // by hash
  suspended = new Set<string>();
  verified = new Set<string>(); // `${account}/${domain}`
  authQueries = 0;
  domainQueries = 0;
  /** When set, the next reads wait for it (a query under way). */
  gate: Promise<void> | null = null;

  addKey(hash: string, key_id: string, account_id: string): void {
    this.keys.set(hash, { key_id, account_id, revoked: false });
  }
}

/** The store's methods the cache reads or wraps, over a FakeDatabase. */
function fakeStore(db: FakeDatabase) {
  const store = {
    kind: 'sqlite' as const,
    marker: Symbol.for('fake'),
    async authenticate(hash: string): Promise<AuthenticatedKey | null> {
      db.authQueries++;
      const k = db.keys.get(hash);
      const answer = k && !k.revoked ? { key_id: k.key_id, account_id: k.account_id, mode: 'live' as const, suspended: db.suspended.has(k.account_id) } : null;
      if (db.gate) await db.gate;
      return answer;
    },
    async hasVerifiedDomain(accountId: string, domains: readonly string[]): Promise<boolean> {
      db.domainQueries++;
      const answer = domains.some((d) => db.verified.has(`${accountId}/${d}`));
      if (db.gate) await db.gate;
      return answer;
    },
    async revokeApiKey(keyId: string): Promise<boolean> {
      for (const k of db.keys.values()) if (k.key_id === keyId && !k.revoked) return (k.revoked = true);
      return false;
    },
    async updateAccount(accountId: string, patch: { suspended?: boolean }) {
      if (patch.suspended === true) db.suspended.add(accountId);
      if (patch.suspended === false) db.suspended.delete(accountId);
      return { id: accountId, name: 'x', created_at: 0 };
    },
    async beginAccountErasure(accountId: string) {
      db.suspended.add(accountId);
      for (const [hash, k] of db.keys) if (k.account_id === accountId) db.keys.delete(hash);
      return { id: accountId, name: 'x', created_at: 0 };
    },
    async deleteDomain(accountId: string, domain: string): Promise<boolean> {
      return db.verified.delete(`${accountId}/${domain}`);
    },
    async markDomainVerified(accountId: string, domain: string) {
      db.verified.add(`${accountId}/${domain}`);
      return null;
    },
    async getAccount(this: unknown, id: string) {
      assert.equal(this, store, 'other methods are called on the store itself');
      return { id, name: 'x', created_at: 0 };
    },
  };
  return store;
}

type CachedFake = ReturnType<typeof fakeStore> & AccountsStore & DomainsStore;

function setup(options: { maxEntries?: number } = {}) {
  const db = new FakeDatabase();
  let now = 1_000_000;
  const clock = {
    now: () => now,
    advance: (ms: number) => void (now += ms),
  };
  const store = withAuthCache(fakeStore(db) as unknown as CachedFake, { ttlMs: 1000, now: clock.now, ...options });
  return { db, store, clock };
}

/** A gate the fake's reads wait on until opened. */
function holdReads(db: FakeDatabase): () => void {
  let open!: () => void;
  db.gate = new Promise<void>((resolve) => (open = resolve));
  return () => {
    db.gate = null;
    open();
  };
}

describe('auth cache: answers reused for less than 1 s', () => {
  it('a key is asked once within the second, again once it has passed; a change by another process shows then', async () => {
    const { db, store, clock } = setup();
    db.addKey('h1', 'key_1', 'acct_1');
    const first = await store.authenticate('h1');
    assert.deepEqual(first, { key_id: 'key_1', account_id: 'acct_1', mode: 'live', suspended: false });
    assert.equal(db.authQueries, 1);
    db.keys.get('h1')!.revoked = true; // another process revokes it
    clock.advance(999);
    assert.deepEqual(await store.authenticate('h1'), first, 'still the answer read less than 1 s ago');
    assert.equal(db.authQueries, 1, 'a hit asks the store nothing');
    clock.advance(1);
    assert.equal(await store.authenticate('h1'), null, '1 s after the read, the revocation shows');
    assert.equal(db.authQueries, 2);
  });

  it('by default an answer is used for 250 ms, well inside the 1 s promised', async () => {
    const db = new FakeDatabase();
    db.addKey('h1', 'key_1', 'acct_1');
    let now = 0;
    const store = withAuthCache(fakeStore(db) as unknown as CachedFake, { now: () => now });
    await store.authenticate('h1');
    now = 249;
    await store.authenticate('h1');
    assert.equal(db.authQueries, 1);
    now = 250;
    await store.authenticate('h1');
    assert.equal(db.authQueries, 2);
  });

  it('the second counts from when the query began, not from when it answered', async () => {
    const { db, store, clock } = setup();
    db.addKey('h1', 'key_1', 'acct_1');
    const open = holdReads(db);
    const asked = store.authenticate('h1');
    clock.advance(600); // a slow query
    open();
    await asked;
    clock.advance(399);
    await store.authenticate('h1');
    assert.equal(db.authQueries, 1);
    clock.advance(1);
    await store.authenticate('h1');
    assert.equal(db.authQueries, 2, 'used no longer than 1 s after the read began');
  });

  it('a suspension by another process shows within the second', async () => {
    const { db, store, clock } = setup();
    db.addKey('h1', 'key_1', 'acct_1');
    assert.equal((await store.authenticate('h1'))!.suspended, false);
    db.suspended.add('acct_1');
    clock.advance(1000);
    assert.equal((await store.authenticate('h1'))!.suspended, true);
  });

  it('a verified domain is asked once within the second; its deletion by another process shows after it', async () => {
    const { db, store, clock } = setup();
    db.verified.add('acct_1/example.com');
    assert.equal(await store.hasVerifiedDomain('acct_1', ['a.example.com', 'example.com']), true);
    db.verified.clear();
    clock.advance(999);
    assert.equal(await store.hasVerifiedDomain('acct_1', ['a.example.com', 'example.com']), true);
    assert.equal(db.domainQueries, 1);
    clock.advance(1);
    assert.equal(await store.hasVerifiedDomain('acct_1', ['a.example.com', 'example.com']), false);
    assert.equal(db.domainQueries, 2);
  });

  it('lookups of one key at the same moment share one query', async () => {
    const { db, store } = setup();
    db.addKey('h1', 'key_1', 'acct_1');
    const open = holdReads(db);
    const answers = Promise.all(Array.from({ length: 10 }, () => store.authenticate('h1')));
    open();
    for (const a of await answers) assert.equal(a!.key_id, 'key_1');
    assert.equal(db.authQueries, 1);
  });

  it('a failed lookup is not kept', async () => {
    const { db, store } = setup();
    db.addKey('h1', 'key_1', 'acct_1');
    const real = db.keys;
    db.keys = { get: () => { throw new Error('database down'); } } as unknown as Map<string, FakeKey>;
    await assert.rejects(store.authenticate('h1'), /database down/);
    db.keys = real;
    assert.equal((await store.authenticate('h1'))!.key_id, 'key_1');
    assert.equal(db.authQueries, 2);
  });
});

describe('auth cache: refusals are never kept', () => {
  it('an unknown key is asked every time: a key made by another process works on the next request', async () => {
    const { db, store } = setup();
    assert.equal(await store.authenticate('h_new'), null);
    assert.equal(await store.authenticate('h_new'), null);
    assert.equal(db.authQueries, 2);
    db.addKey('h_new', 'key_new', 'acct_1');
    assert.equal((await store.authenticate('h_new'))!.key_id, 'key_new', 'no clock moved: not cached as unknown');
    assert.deepEqual(authCacheOf(store)!.size, { keys: 1, domains: 0 }, 'unknown keys took no room');
  });

  it('a suspended account\'s key is asked every time: resumed by another process, it works on the next request', async () => {
    const { db, store } = setup();
    db.addKey('h1', 'key_1', 'acct_1');
    db.suspended.add('acct_1');
    assert.equal((await store.authenticate('h1'))!.suspended, true);
    db.suspended.delete('acct_1');
    assert.equal((await store.authenticate('h1'))!.suspended, false, 'no clock moved: the suspension was not kept');
    assert.equal(db.authQueries, 2);
  });

  it('a domain not verified is asked every time: verified by another process, it works on the next request', async () => {
    const { db, store } = setup();
    assert.equal(await store.hasVerifiedDomain('acct_1', ['example.com']), false);
    db.verified.add('acct_1/example.com');
    assert.equal(await store.hasVerifiedDomain('acct_1', ['example.com']), true);
    assert.equal(db.domainQueries, 2);
  });
});

describe('auth cache: changes made through this process show at once', () => {
  it('revokeApiKey: the key is refused on the next request; the account\'s other keys stay cached', async () => {
    const { db, store } = setup();
    db.addKey('h1', 'key_1', 'acct_1');
    db.addKey('h2', 'key_2', 'acct_1');
    await store.authenticate('h1');
    await store.authenticate('h2');
    assert.equal(await store.revokeApiKey('key_1', null, 0), true);
    assert.equal(await store.authenticate('h1'), null);
    assert.equal((await store.authenticate('h2'))!.key_id, 'key_2');
    assert.equal(db.authQueries, 3, 'only the revoked key was asked again');
  });

  it('updateAccount: suspending shows at once on every key of the account, resuming too', async () => {
    const { db, store } = setup();
    db.addKey('h1', 'key_1', 'acct_1');
    db.addKey('h2', 'key_2', 'acct_1');
    db.addKey('h3', 'key_3', 'acct_2');
    for (const h of ['h1', 'h2', 'h3']) assert.equal((await store.authenticate(h))!.suspended, false);
    await store.updateAccount('acct_1', { suspended: true }, 0);
    assert.equal((await store.authenticate('h1'))!.suspended, true);
    assert.equal((await store.authenticate('h2'))!.suspended, true);
    assert.equal((await store.authenticate('h3'))!.suspended, false);
    assert.equal(db.authQueries, 5, 'the other account stays cached');
    await store.updateAccount('acct_1', { suspended: false }, 0);
    assert.equal((await store.authenticate('h1'))!.suspended, false);
  });

  it('beginAccountErasure: the account\'s keys are refused on the next request', async () => {
    const { db, store } = setup();
    db.addKey('h1', 'key_1', 'acct_1');
    await store.authenticate('h1');
    await store.beginAccountErasure('acct_1', 0);
    assert.equal(await store.authenticate('h1'), null);
  });

  it('deleteDomain: sends to it are refused on the next request; other accounts\' answers stay', async () => {
    const { db, store } = setup();
    db.verified.add('acct_1/example.com');
    db.verified.add('acct_2/example.com');
    assert.equal(await store.hasVerifiedDomain('acct_1', ['example.com']), true);
    assert.equal(await store.hasVerifiedDomain('acct_2', ['example.com']), true);
    await store.deleteDomain('acct_1', 'example.com');
    assert.equal(await store.hasVerifiedDomain('acct_1', ['example.com']), false);
    assert.equal(await store.hasVerifiedDomain('acct_2', ['example.com']), true);
    assert.equal(db.domainQueries, 3);
  });

  it('markDomainVerified: a domain verified here works on the next request', async () => {
    const { store } = setup();
    assert.equal(await store.hasVerifiedDomain('acct_1', ['example.com']), false);
    await store.markDomainVerified('acct_1', 'example.com', 0);
    assert.equal(await store.hasVerifiedDomain('acct_1', ['example.com']), true);
  });

  it('a lookup under way when a key is revoked is not kept', async () => {
    const { db, store } = setup();
    db.addKey('h1', 'key_1', 'acct_1');
    const open = holdReads(db);
    const before = store.authenticate('h1'); // reads the key as live, answers later
    await store.revokeApiKey('key_1', null, 0);
    const after = store.authenticate('h1'); // must not share the lookup begun before the revocation
    open();
    assert.equal((await before)!.key_id, 'key_1');
    assert.equal(await after, null);
    assert.equal(await store.authenticate('h1'), null, 'the answer read before the revocation was not kept');
  });

  it('a change that fails still drops the answers (it may have committed)', async () => {
    const db = new FakeDatabase();
    db.addKey('h1', 'key_1', 'acct_1');
    const fake = fakeStore(db);
    const revoke = fake.revokeApiKey;
    fake.revokeApiKey = async (keyId: string) => {
      await revoke(keyId);
      throw new Error('connection lost after commit');
    };
    const store = withAuthCache(fake as unknown as CachedFake, { ttlMs: 1000, now: () => 0 });
    await store.authenticate('h1');
    await assert.rejects(store.revokeApiKey('key_1', null, 0), /connection lost/);
    assert.equal(await store.authenticate('h1'), null);
  });
});

describe('auth cache: bounded, and one account never answers for another', () => {
  it('holds at most maxEntries answers of each kind, dropping the oldest', async () => {
    const { db, store } = setup({ maxEntries: 3 });
    for (let i = 1; i <= 5; i++) db.addKey(`h${i}`, `key_${i}`, 'acct_1');
    for (let i = 1; i <= 5; i++) await store.authenticate(`h${i}`);
    for (let i = 1; i <= 5; i++) db.verified.add(`acct_${i}/example.com`);
    for (let i = 1; i <= 5; i++) await store.hasVerifiedDomain(`acct_${i}`, ['example.com']);
    assert.deepEqual(authCacheOf(store)!.size, { keys: 3, domains: 3 });
    const asked = db.authQueries;
    await store.authenticate('h5');
    assert.equal(db.authQueries, asked, 'the newest is kept');
    await store.authenticate('h1');
    assert.equal(db.authQueries, asked + 1, 'the oldest went');
  });

  it('keys by hash and domains by account: another account\'s answer is never used', async () => {
    const { db, store } = setup();
    db.addKey('h1', 'key_1', 'acct_1');
    db.addKey('h2', 'key_2', 'acct_2');
    assert.equal((await store.authenticate('h1'))!.account_id, 'acct_1');
    assert.equal((await store.authenticate('h2'))!.account_id, 'acct_2');
    db.verified.add('acct_1/example.com');
    assert.equal(await store.hasVerifiedDomain('acct_1', ['example.com']), true);
    assert.equal(await store.hasVerifiedDomain('acct_2', ['example.com']), false);
    assert.equal(await store.hasVerifiedDomain('acct_1', ['other.com']), false, 'nor another domain\'s');
  });

  it('every other member is the store\'s own', async () => {
    const { store } = setup();
    assert.equal(store.kind, 'sqlite');
    assert.equal(store.marker, Symbol.for('fake'));
    assert.deepEqual(await store.getAccount('acct_1'), { id: 'acct_1', name: 'x', created_at: 0 });
  });
});
