/**
 * `harepost dev`: a local sandbox. Embedded store under ./.harepost/, http and loopback targets
 * allowed, `localhost` pre-verified, a dev account (made on the first run, reused after) whose
 * keys it prints with a curl that delivers to the built-in sink at /dev/sink.
 *
 * Everything it prints is for one mode, test (the curl's key, the dashboard sign-in link), and it
 * says so. The CLI commands it prints name the sandbox's store with --database-url, so they work
 * pasted into another terminal in the same folder.
 *
 * The dev account's keys are kept in ./.harepost/dev-account.json (file mode 0600) so a second
 * run can print them again: a convenience for a local sandbox, never for `serve`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { KeyMode } from '../core/api-keys.js';
import { hashApiKey } from '../core/api-keys.js';
import { ID_PREFIX, newId } from '../core/ids.js';
import { type Config, loadConfig } from '../config.js';
import type { Store } from '../store/store.js';
import { startHarepost } from './compose.js';
import { DEV_DATABASE_URL, devAccountFile, shownDatabaseUrl } from './dev-store.js';
import { issueKey } from './issue-key.js';
import { issueLoginLink, publicBase } from './login-link.js';
import { shellLine, shellWord } from './shell-words.js';

interface DevAccount {
  account_id: string;
  live_key: string;
  test_key: string;
}

/** The one mode of everything `harepost dev` prints: the curl's key and the dashboard link. */
export const SANDBOX_MODE: KeyMode = 'test';

/** Settings given on the command line, by flag name (--database-url → 'database-url'). */
type SettingFlags = Record<string, string | boolean | undefined>;

const given = (env: NodeJS.ProcessEnv, flags: SettingFlags, name: string, flag: string) =>
  flags[flag] !== undefined || (env[name] !== undefined && env[name] !== '');

export function devConfig(config: Config, env: NodeJS.ProcessEnv, flags: SettingFlags = {}): Config {
  return {
    ...config,
    databaseUrl: given(env, flags, 'HAREPOST_DATABASE_URL', 'database-url') ? config.databaseUrl : DEV_DATABASE_URL,
    logLevel: given(env, flags, 'HAREPOST_LOG_LEVEL', 'log-level') ? config.logLevel : 'warn',
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

/**
 * The CLI commands to paste into another terminal in this folder: each names the sandbox's store
 * (and, for links, the sandbox's address when it is not the default one). A PostgreSQL URL with
 * a password is not printed: the commands read it from HAREPOST_DATABASE_URL instead.
 */
export function sandboxCommands(config: Config, accountId: string, linkBase: string): { lines: string[]; note: string | null } {
  const secretUrl = shownDatabaseUrl(config.databaseUrl) !== config.databaseUrl;
  const database = secretUrl ? '--database-url "$HAREPOST_DATABASE_URL"' : `--database-url ${shellWord(config.databaseUrl)}`;
  const publicUrl = linkBase === publicBase(loadConfig({})) ? [] : ['--public-url', linkBase];
  const cmd = (...args: string[]) => `${shellLine(['npx', 'harepost', ...args])} ${database}`;
  return {
    lines: [
      cmd('login-link', '--account', accountId, '--mode', SANDBOX_MODE, ...publicUrl),
      cmd('keys', 'list', '--account', accountId),
      cmd('accounts', 'create', '--name', 'Second app'),
    ],
    note: secretUrl ? 'with HAREPOST_DATABASE_URL set in that terminal as in this one' : null,
  };
}

export async function devCommand(base: Config, env: NodeJS.ProcessEnv = process.env, flags: SettingFlags = {}): Promise<number> {
  const config = devConfig(base, env, flags);
  const hp = await startHarepost(config, { devSink: true });
  const { account, created } = await devAccount(hp.store, devAccountFile(config.databaseUrl));
  const url = hp.url!;
  const port = new URL(url).port;
  const sink = `http://localhost:${port}/dev/sink`;
  const body = JSON.stringify({ target: sink, body: { hello: 'world' } });
  const linkBase = config.publicUrl ?? url;
  const dashboard = await issueLoginLink(hp.store, account.account_id, SANDBOX_MODE, linkBase);
  const key = SANDBOX_MODE === 'test' ? account.test_key : account.live_key;
  const commands = sandboxCommands(config, account.account_id, linkBase);
  console.log(`
Harepost dev sandbox — ${url}  (${created ? 'new dev account' : 'dev account reused'}; store ${shownDatabaseUrl(config.databaseUrl)})
The curl and the dashboard link below are both in ${SANDBOX_MODE} mode; the dashboard can switch to the other mode.

  account    ${account.account_id}
  live key   ${account.live_key}
  test key   ${account.test_key}
  API docs   ${url}/docs
  dashboard  ${dashboard.url}   (${SANDBOX_MODE} mode; sign-in link: works once, for 15 min)
  sink       ${url}/dev/sink   (GET it to see what arrived)

Send a webhook to the sink (${SANDBOX_MODE} mode):

curl -X POST ${url}/v1/send -H "Authorization: Bearer ${key}" -H "Content-Type: application/json" -d '${body}'

Then: curl ${url}/dev/sink

The CLI in another terminal in this folder reaches this sandbox's store with --database-url${commands.note ? ` (${commands.note})` : ''}:

${commands.lines.join('\n')}
`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await hp.close();
  return 0;
}
