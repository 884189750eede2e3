/** `harepost keys create|list|revoke`. */
import type { KeyMode } from '../core/api-keys.js';
import type { Config } from '../config.js';
import { openStore } from '../store/open-store.js';
import { noAccountMessage } from './dev-store.js';
import { issueKey } from './issue-key.js';
import { type CommandOptions, UsageError, requireText } from './usage.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export async function keysCommand(config: Config, args: string[], opts: CommandOptions): Promise<number> {
  const [sub, keyId] = args;
  const store = openStore(config.databaseUrl);
  try {
    await store.migrate();
    switch (sub) {
      case 'create': {
        const account = requireText(opts.account, '--account');
        const mode = opts.mode === undefined ? 'live' : requireText(opts.mode, '--mode');
        if (mode !== 'live' && mode !== 'test') throw new UsageError('--mode must be live or test');
        if (!(await store.getAccount(account))) throw new UsageError(noAccountMessage(config, account));
        const k = await issueKey(store, account, mode as KeyMode);
        const out = { id: k.id, mode: k.mode, key: k.key, prefix: k.prefix, created_at: iso(k.created_at) };
        console.log(opts.json ? JSON.stringify(out) : `${k.id}  ${k.mode}  ${k.key}\nThe key is shown once: save it now.`);
        return 0;
      }
      case 'list': {
        const account = requireText(opts.account, '--account');
        if (!(await store.getAccount(account))) {
          console.error(`harepost: ${noAccountMessage(config, account)}`);
          return 1;
        }
        const keys = (await store.listApiKeys(account)).map((k) => ({
          id: k.id,
          mode: k.mode,
          prefix: k.prefix,
          created_at: iso(k.created_at),
          last_used_at: iso(k.last_used_at),
          revoked_at: iso(k.revoked_at),
        }));
        if (opts.json) console.log(JSON.stringify({ data: keys }));
        else for (const k of keys) console.log(`${k.id}  ${k.mode}  ${k.prefix}…  ${k.revoked_at ? 'revoked' : 'active'}`);
        return 0;
      }
      case 'revoke': {
        if (!keyId) throw new UsageError('usage: harepost keys revoke KEY_ID [--account ACCOUNT_ID]');
        const account = opts.account === undefined ? null : requireText(opts.account, '--account');
        const revoked = await store.revokeApiKey(keyId, account, Date.now());
        if (!revoked) {
          console.error(`harepost: no active key ${keyId}${account ? ` on account ${account}` : ''}`);
          return 1;
        }
        console.log(opts.json ? JSON.stringify({ id: keyId, revoked: true }) : `revoked ${keyId}`);
        return 0;
      }
      default:
        throw new UsageError('usage: harepost keys create|list|revoke …');
    }
  } finally {
    await store.close();
  }
}
