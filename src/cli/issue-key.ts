/** Makes a new API key: the key itself goes back to the caller once; only its hash is stored. */
import { type KeyMode, generateApiKey, hashApiKey, keyPrefix } from '../core/api-keys.js';
import { ID_PREFIX, newId } from '../core/ids.js';
import type { Store } from '../store/store.js';

export async function issueKey(store: Store, accountId: string, mode: KeyMode) {
  const key = generateApiKey(mode);
  const record = {
    id: newId(ID_PREFIX.key),
    account_id: accountId,
    mode,
    key_hash: hashApiKey(key),
    prefix: keyPrefix(key),
    created_at: Date.now(),
  };
  await store.createApiKey(record);
  return { ...record, key };
}
