/**
 * `harepost accounts create|list|show|suspend|resume|delete`: the operator API's account
 * operations (/admin/v1/accounts), against the store itself — for whoever has a shell on the
 * server. JSON output (`--json`) has the shapes the operator API answers with.
 */
import { AccountEraser } from '../api/admin/account-eraser.js';
import { adminAccountJson } from '../api/admin/present.js';
import { ID_PREFIX, newId } from '../core/ids.js';
import type { Config } from '../config.js';
import { openStore } from '../store/open-store.js';
import type { Account, Store } from '../store/store.js';
import { noAccountMessage } from './dev-store.js';
import { issueKey } from './issue-key.js';
import { limitDefaultsOf } from './limit-defaults.js';
import { type CommandOptions, UsageError, requireText } from './usage.js';

export const ACCOUNTS_USAGE = 'usage: harepost accounts create --name NAME | list | show ID | suspend ID | resume ID | delete ID [--json]';

const stateOf = (a: Account) => (a.erasing_since != null ? 'erasing' : a.suspended_at != null ? 'suspended' : 'active');

export async function accountsCommand(config: Config, args: string[], opts: CommandOptions): Promise<number> {
  const [sub, id, ...extra] = args;
  if (extra.length > 0) throw new UsageError(ACCOUNTS_USAGE);
  const needsId = sub === 'show' || sub === 'suspend' || sub === 'resume' || sub === 'delete';
  if (needsId && !id) throw new UsageError(`usage: harepost accounts ${sub} ACCOUNT_ID [--json]`);
  if (!needsId && id) throw new UsageError(ACCOUNTS_USAGE);
  if (sub === 'create') requireText(opts.name, '--name');
  else if (!needsId && sub !== 'list') throw new UsageError(ACCOUNTS_USAGE);

  const store = openStore(config.databaseUrl);
  const defaults = limitDefaultsOf(config);
  const present = (a: Account) => adminAccountJson(a, defaults);
  try {
    await store.migrate();
    switch (sub) {
      case 'create':
        return await create(store, requireText(opts.name, '--name'), opts.json);
      case 'list': {
        const all = await everyAccount(store);
        if (opts.json) console.log(JSON.stringify({ data: all.map(present) }));
        else for (const a of all) console.log(`${a.id}  ${stateOf(a).padEnd(9)}  ${new Date(a.created_at).toISOString()}  ${a.name}`);
        return 0;
      }
      default:
        break;
    }
    const account = await store.getAccount(id!);
    if (!account) {
      console.error(`harepost: ${noAccountMessage(config, id!)}`);
      return 1;
    }
    switch (sub) {
      case 'show': {
        const shown = { ...present(account), usage: await store.accountUsage(account.id) };
        if (opts.json) console.log(JSON.stringify(shown));
        else {
          console.log(`account  ${shown.id}  (${shown.name})`);
          console.log(`state    ${stateOf(account)}${shown.suspended_at ? ` since ${shown.suspended_at}` : ''}`);
          console.log(`created  ${shown.created_at}`);
          for (const [name, value] of Object.entries(shown.limits)) {
            const own = name in shown.limit_overrides ? '' : ' (default)';
            console.log(`${name.padEnd(23)} ${String(value).padStart(9)}${own}   in use: ${shown.usage[name.slice(4) as keyof typeof shown.usage]}`);
          }
        }
        return 0;
      }
      case 'suspend':
      case 'resume': {
        if (account.erasing_since != null) {
          console.error(`harepost: account ${account.id} is being erased`);
          return 1;
        }
        const updated = (await store.updateAccount(account.id, { suspended: sub === 'suspend' }, Date.now()))!;
        if (opts.json) console.log(JSON.stringify(present(updated)));
        else if (sub === 'suspend') console.log(`suspended ${updated.id}: its keys get 403 account_suspended, its dashboard sessions ended, its deliveries wait`);
        else console.log(`resumed ${updated.id}: its keys work and its waiting deliveries go out`);
        return 0;
      }
      case 'delete': {
        await store.beginAccountErasure(account.id, Date.now());
        const eraser = new AccountEraser({ store });
        await eraser.erase(account.id);
        console.log(opts.json ? JSON.stringify({ id: account.id, erased: true }) : `erased ${account.id} and everything it owned`);
        return 0;
      }
    }
    throw new UsageError(ACCOUNTS_USAGE);
  } finally {
    await store.close();
  }
}

/** A new account with one live and one test key (shown once). */
async function create(store: Store, name: string, json: boolean): Promise<number> {
  const account = { id: newId(ID_PREFIX.account), name, created_at: Date.now() };
  await store.createAccount(account);
  const live = await issueKey(store, account.id, 'live');
  const test = await issueKey(store, account.id, 'test');
  if (json) {
    console.log(JSON.stringify({ account_id: account.id, live_key: live.key, test_key: test.key }));
  } else {
    console.log(`account  ${account.id}  (${name})`);
    console.log(`live key ${live.key}`);
    console.log(`test key ${test.key}`);
    console.log('Keys are shown once and stored only as hashes: save them now.');
  }
  return 0;
}

async function everyAccount(store: Store): Promise<Account[]> {
  const all: Account[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listAccounts({ limit: 100, ...(cursor ? { cursor } : {}) });
    all.push(...page.rows);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return all;
}
