/**
 * Where `harepost dev` keeps its sandbox, and how the other commands find it.
 *
 * The sandbox has a store of its own (./.harepost/dev.db, beside serve's ./.harepost/harepost.db):
 * it allows http and loopback targets and keeps its dev account's keys in a file, so its data never
 * mixes with what `serve` holds. The commands `harepost dev` prints name that store with
 * `--database-url`, and a command run against another store with the dev account's id says so.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from '../config.js';

/** The sandbox's store when neither HAREPOST_DATABASE_URL nor --database-url names one. */
export const DEV_DATABASE_URL = './.harepost/dev.db';

export function isPostgresUrl(databaseUrl: string): boolean {
  return /^postgres(ql)?:\/\//i.test(databaseUrl);
}

/**
 * The file that keeps the dev account's keys: beside the sandbox's SQLite file, or in
 * ./.harepost/ when the sandbox runs on PostgreSQL.
 */
export function devAccountFile(databaseUrl: string): string {
  if (isPostgresUrl(databaseUrl)) return join(dirname(DEV_DATABASE_URL), 'dev-account.json');
  const path = databaseUrl.startsWith('file:') ? databaseUrl.slice('file:'.length) : databaseUrl;
  return join(dirname(path), 'dev-account.json');
}

/** The account id saved by `harepost dev` in this folder, if any (never its keys). */
function savedDevAccountId(): string | null {
  const file = devAccountFile(DEV_DATABASE_URL);
  if (!existsSync(file)) return null;
  try {
    const id = (JSON.parse(readFileSync(file, 'utf8')) as { account_id?: unknown }).account_id;
    return typeof id === 'string' ? id : null;
  } catch {
    return null;
  }
}

/**
 * "no account X", and when X is the dev sandbox's account of this folder while the command looked
 * in another store, how to reach the sandbox's store instead.
 */
export function noAccountMessage(config: Config, accountId: string): string {
  const message = `no account ${accountId}`;
  if (config.databaseUrl === DEV_DATABASE_URL || savedDevAccountId() !== accountId) return message;
  return `${message} in this store: ${accountId} is the dev sandbox's account (harepost dev), kept in ${DEV_DATABASE_URL}; add --database-url ${DEV_DATABASE_URL}`;
}

/** The database URL as it may be shown: a PostgreSQL password is replaced by `***`. */
export function shownDatabaseUrl(databaseUrl: string): string {
  if (!isPostgresUrl(databaseUrl)) return databaseUrl;
  try {
    const url = new URL(databaseUrl);
    if (url.password !== '') url.password = '***';
    return url.toString();
  } catch {
    return 'postgres://…';
  }
}
