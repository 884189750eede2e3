/** Makes a new API key: the key itself goes back to the caller once; only its hash is stored. */
import { type KeyMode, mintApiKey } from '../core/api-keys.js';
import type { Store } from '../store/store.js';

export async function issueKey(store: Store, accountId: string, mode: KeyMode) {
  const { key, record } = mintApiKey(accountId, mode);
  await store.createApiKey(record);
  return { ...record, key };
}
