/** `harepost migrate`: applies pending schema migrations and exits. */
import type { Config } from '../config.js';
import { openStore } from '../store/open-store.js';

export async function migrateCommand(config: Config): Promise<number> {
  const store = openStore(config.databaseUrl);
  try {
    await store.migrate();
    console.log(`migrations applied (${store.kind})`);
  } finally {
    await store.close();
  }
  return 0;
}
