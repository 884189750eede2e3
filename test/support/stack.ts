/**
 * A whole Harepost for end-to-end tests: the real service (in process) on a real database file,
 * pointed at a real DNS server on loopback and real HTTPS receivers whose certificates come from
 * a CA made for this run. Only loopback addresses are ever dialled.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { request } from 'undici';
import { loadConfig } from '../../src/config.js';
import { type Harepost, startHarepost } from '../../src/cli/compose.js';
import { issueKey } from '../../src/cli/issue-key.js';
import { ID_PREFIX, newId } from '../../src/core/ids.js';
import { createTestPki, type TestPki } from './ca.js';
import { startDnsServer, type DnsServer } from './dns-server.js';
import { startReceiver, type Receiver } from './receiver.js';
import { testDatabase } from './test-database.js';

/** Every test domain lives under example.test and resolves to 127.0.0.1 through the test DNS. */
export const TEST_ZONE = 'example.test';

export interface ApiResponse<T = any> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  text: string;
}

export interface TestAccount {
  account_id: string;
  live_key: string;
  test_key: string;
}

export interface Stack {
  hp: Harepost;
  pki: TestPki;
  dns: DnsServer;
  receiver: Receiver;
  dir: string;
  env: Record<string, string>;
  /** Calls the API. `key` goes in Authorization: Bearer unless `auth: 'x-api-key'`. */
  api<T = any>(
    method: string,
    path: string,
    opts?: { key?: string; body?: unknown; rawBody?: string; headers?: Record<string, string>; auth?: 'x-api-key' },
  ): Promise<ApiResponse<T>>;
  createAccount(name?: string): Promise<TestAccount>;
  /** Adds and verifies `domain` for the account the key belongs to, through DNS TXT. */
  verifyDomain(key: string, domain: string): Promise<void>;
  /** An https URL on the receiver under `host` (which the test DNS resolves to 127.0.0.1). */
  target(path?: string, host?: string): string;
  close(): Promise<void>;
}

export interface StackOptions {
  env?: Record<string, string>;
  /** A logger of the test's own (e.g. to capture every line). */
  logger?: Logger;
  /** Force a store instead of HAREPOST_TEST_STORE's. */
  store?: 'sqlite' | 'postgres';
  /** Rewrites the database URL the service gets (e.g. to go through a proxy). */
  databaseUrl?: (url: string) => string;
  /**
   * More names the receivers' certificate is valid for, besides example.test and its subdomains
   * (e.g. a document's own `your-app.com`; point them at 127.0.0.1 with `dns.setA`).
   */
  certNames?: string[];
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'harepost-e2e-'));
  const pki = await createTestPki({ names: [TEST_ZONE, `*.${TEST_ZONE}`, ...(opts.certNames ?? [])], dir: join(dir, 'pki') });
  const receiver = await startReceiver({ tls: { certPem: pki.certPem, keyPem: pki.keyPem } });
  const dns = await startDnsServer();
  dns.setA(`*.${TEST_ZONE}`, ['127.0.0.1']);
  dns.setA(TEST_ZONE, ['127.0.0.1']);
  const database = await testDatabase(dir, opts.store);
  const env: Record<string, string> = {
    HAREPOST_DATABASE_URL: opts.databaseUrl ? opts.databaseUrl(database.url) : database.url,
    HAREPOST_HOST: '127.0.0.1',
    HAREPOST_PORT: '0',
    HAREPOST_DNS_SERVERS: dns.address,
    HAREPOST_ALLOW_PRIVATE_NETWORKS: '127.0.0.1/32',
    HAREPOST_LOG_LEVEL: 'silent',
    HAREPOST_RATE_LIMIT_PER_SECOND: '100000',
    // tests share one receiver origin: the breaker is off unless a test turns it on
    HAREPOST_BREAKER_FAILURES: '1000',
    // the service shares this process's event loop with the test, its receivers and DNS server: the
    // loop's delay measures the test, so shedding on it is off unless a test turns it on
    HAREPOST_MAX_EVENT_LOOP_DELAY_MS: '0',
    ...opts.env,
  };
  const hp = await startHarepost(loadConfig(env), {
    targetCa: pki.caCertPem,
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
  const base = hp.url!;

  const api: Stack['api'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.key !== undefined) {
      if (o.auth === 'x-api-key') headers['x-api-key'] = o.key;
      else headers.authorization = `Bearer ${o.key}`;
    }
    let body: string | undefined;
    if (o.rawBody !== undefined) body = o.rawBody;
    else if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await request(base + path, { method: method as 'GET', headers, body });
    const text = await res.body.text();
    let parsed: unknown = undefined;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.statusCode, headers: res.headers, body: parsed as any, text };
  };

  const createAccount = async (name = 'test account'): Promise<TestAccount> => {
    const account = { id: newId(ID_PREFIX.account), name, created_at: Date.now() };
    await hp.store.createAccount(account);
    const live = await issueKey(hp.store, account.id, 'live');
    const test = await issueKey(hp.store, account.id, 'test');
    return { account_id: account.id, live_key: live.key, test_key: test.key };
  };

  const verifyDomain = async (key: string, domain: string) => {
    const added = await api('POST', '/v1/domains', { key, body: { domain } });
    if (added.status !== 201 && added.status !== 200) throw new Error(`add domain: ${added.status} ${added.text}`);
    dns.setTxt(added.body.record.name, [added.body.record.value]);
    const verified = await api('POST', '/v1/domains/verify', { key, body: { domain } });
    if (verified.body?.status !== 'verified') throw new Error(`verify domain: ${verified.status} ${verified.text}`);
  };

  return {
    hp,
    pki,
    dns,
    receiver,
    dir,
    env,
    api,
    createAccount,
    verifyDomain,
    target: (path = '/hook', host = `hooks.${TEST_ZONE}`) => receiver.url(path, host),
    async close() {
      await hp.close();
      await receiver.close();
      await dns.close();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
