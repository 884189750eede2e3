/**
 * `harepost dev`: a local sandbox. Embedded store under ./.harepost/, http and loopback targets
 * allowed, `localhost` pre-verified, a dev account (made on the first run, reused after) whose
 * keys it prints with a curl that delivers to the built-in sink at /dev/sink.
 *
 * The dev account's keys are kept in ./.harepost/dev-account.json (file mode 0600) so a second
 * run can print them again: a convenience for a local sandbox, never for `serve`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hashApiKey } from '../core/api-keys.js';
import { ID_PREFIX, newId } from '../core/ids.js';
import type { Config } from '../config.js';
import type { Store } from '../store/store.js';
import { startHarepost } from './compose.js';
import { issueKey } from './issue-key.js';
import { issueLoginLink } from './login-link.js';

interface DevAccount {
  account_id: string;
  live_key: string;
  test_key: string;
}

export function devConfig(config: Config, env: NodeJS.ProcessEnv): Config {
  return {
    ...config,
    databaseUrl: env.HAREPOST_DATABASE_URL ? config.databaseUrl : './.harepost/dev.db',
    logLevel: env.HAREPOST_LOG_LEVEL ? config.logLevel : 'warn',
    allowHttpTargets: true,
    allowPrivateNetworks: ['127.0.0.0/8', '::1/128', config.allowPrivateNetworks].filter(Boolean).join(','),
  };
}

async function devAccount(store: Store, file: string): Promise<{ account: DevAccount; created: boolean }> {
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as DevAccount;
    const live = await store.authenticate(hashApiKey(saved.live_key));
    if (live?.account_id === saved.account_id) return { account: saved, created: false };
  }
  const id = newId(ID_PREFIX.account);
  const now = Date.now();
  await store.createAccount({ id, name: 'dev', created_at: now });
  const account = {
    account_id: id,
    live_key: (await issueKey(store, id, 'live')).key,
    test_key: (await issueKey(store, id, 'test')).key,
  };
  await store.addDomain({ account_id: id, domain: 'localhost', token: 'dev', status: 'verified', created_at: now, verified_at: now });
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(account, null, 2)}\n`, { mode: 0o600 });
  return { account, created: true };
}

export async function devCommand(base: Config, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const config = devConfig(base, env);
  const hp = await startHarepost(config, { devSink: true });
  const file = join(dirname(config.databaseUrl), 'dev-account.json');
  const { account, created } = await devAccount(hp.store, file);
  const url = hp.url!;
  const port = new URL(url).port;
  const sink = `http://localhost:${port}/dev/sink`;
  const body = JSON.stringify({ target: sink, body: { hello: 'world' } });
  const dashboard = await issueLoginLink(hp.store, account.account_id, 'live', config.publicUrl ?? url);
  console.log(`
Harepost dev sandbox — ${url}  (${created ? 'new dev account' : 'dev account reused'}; store ${config.databaseUrl})

  account    ${account.account_id}
  live key   ${account.live_key}
  test key   ${account.test_key}
  API docs   ${url}/docs
  dashboard  ${dashboard.url}   (sign-in link: works once, for 15 min; live mode)
  sink       ${url}/dev/sink   (GET it to see what arrived)

Send a webhook to the sink:

curl -X POST ${url}/v1/send -H "Authorization: Bearer ${account.test_key}" -H "Content-Type: application/json" -d '${body}'

Then: curl ${url}/dev/sink
`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await hp.close();
  return 0;
}
