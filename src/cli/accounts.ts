/** `harepost accounts create --name N [--json]`: a new account with one live and one test key. */
import { ID_PREFIX, newId } from '../core/ids.js';
import type { Config } from '../config.js';
import { openStore } from '../store/open-store.js';
import { issueKey } from './issue-key.js';
import { type CommandOptions, UsageError, requireText } from './usage.js';

export async function accountsCommand(config: Config, args: string[], opts: CommandOptions): Promise<number> {
  if (args[0] !== 'create') throw new UsageError('usage: harepost accounts create --name NAME [--json]');
  const name = requireText(opts.name, '--name');
  const store = openStore(config.databaseUrl);
  try {
    await store.migrate();
    const account = { id: newId(ID_PREFIX.account), name, created_at: Date.now() };
    await store.createAccount(account);
    const live = await issueKey(store, account.id, 'live');
    const test = await issueKey(store, account.id, 'test');
    if (opts.json) {
      console.log(JSON.stringify({ account_id: account.id, live_key: live.key, test_key: test.key }));
    } else {
      console.log(`account  ${account.id}  (${name})`);
      console.log(`live key ${live.key}`);
      console.log(`test key ${test.key}`);
      console.log('Keys are shown once and stored only as hashes: save them now.');
    }
  } finally {
    await store.close();
  }
  return 0;
}
