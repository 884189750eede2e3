/**
 * `harepost login-link --account ID [--mode live|test] [--json]`: a one-time link that signs a
 * browser in to the dashboard as that account, in that mode. The link works once, within
 * 15 minutes; the token in it is stored only as its SHA-256 hash. `harepost dev` prints one too.
 */
import type { Config } from '../config.js';
import { issueLoginLink } from '../api/login-links.js';
import { openStore } from '../store/open-store.js';
import { noAccountMessage } from './dev-store.js';
import { type CommandOptions, UsageError, requireText } from './usage.js';

export { issueLoginLink, type LoginLink } from '../api/login-links.js';

/** Where the links point: HAREPOST_PUBLIC_URL, else the address the service listens on. */
export function publicBase(config: Config): string {
  if (config.publicUrl !== null) return config.publicUrl;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${config.port}`;
}

export async function loginLinkCommand(config: Config, opts: CommandOptions): Promise<number> {
  const account = requireText(opts.account, '--account');
  const mode = opts.mode === undefined ? 'live' : requireText(opts.mode, '--mode');
  if (mode !== 'live' && mode !== 'test') throw new UsageError('--mode must be live or test');
  const store = openStore(config.databaseUrl);
  try {
    await store.migrate();
    if (!(await store.getAccount(account))) {
      console.error(`harepost: ${noAccountMessage(config, account)}`);
      return 1;
    }
    const link = await issueLoginLink(store, account, mode, publicBase(config));
    const expires = new Date(link.expires_at).toISOString();
    console.log(
      opts.json
        ? JSON.stringify({ url: link.url, account_id: account, mode, expires_at: expires })
        : `${link.url}\nOpen it in a browser to sign in to the dashboard (${mode} mode). It works once, until ${expires}.`,
    );
    return 0;
  } finally {
    await store.close();
  }
}
