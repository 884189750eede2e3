#!/usr/bin/env node
/** The `harepost` command. */
import { parseArgs } from 'node:util';
import { CONFIG_FLAGS, ConfigError, loadConfig } from '../config.js';
import { accountsCommand } from './accounts.js';
import { devCommand } from './dev.js';
import { keysCommand } from './keys.js';
import { loginLinkCommand } from './login-link.js';
import { migrateCommand } from './migrate.js';
import { serveCommand } from './serve.js';
import { UsageError } from './usage.js';

const HELP = `harepost — self-hosted webhook delivery

Usage:
  harepost serve [--role api|worker|all] [--port N] [--host H] [--database-url PATH]
  harepost dev                      (a local sandbox in ./.harepost/dev.db: see what it prints)
  harepost migrate
  harepost accounts create --name NAME [--json]
  harepost accounts list [--json]
  harepost accounts show ACCOUNT_ID [--json]          (its limits and what it holds)
  harepost accounts suspend|resume ACCOUNT_ID [--json]
  harepost accounts delete ACCOUNT_ID [--json]        (erases it and everything it owns)
  harepost keys create --account ACCOUNT_ID [--mode live|test] [--json]
  harepost keys list --account ACCOUNT_ID [--json]
  harepost keys revoke KEY_ID [--account ACCOUNT_ID]
  harepost login-link --account ACCOUNT_ID [--mode live|test] [--json]   (a one-time dashboard sign-in link)

Every setting is an environment variable (HAREPOST_PORT, HAREPOST_DATABASE_URL, ...) and a flag
of the same name (--port, --database-url, ...). See README.md.`;

async function main(argv: string[]): Promise<number> {
  const options: NonNullable<Parameters<typeof parseArgs>[0]>['options'] = {
    name: { type: 'string' },
    account: { type: 'string' },
    mode: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean' },
  };
  for (const flag of CONFIG_FLAGS) options[flag] = { type: 'string' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const flags = values as Record<string, string | boolean>;
  const [command, ...rest] = positionals;
  if (flags.version) {
    console.log('harepost 0.1.0');
    return 0;
  }
  if (!command || command === 'help' || flags.help) {
    console.log(HELP);
    return command || flags.help ? 0 : 1;
  }
  const { json, name, account, mode, ...settingFlags } = flags;
  const config = loadConfig(process.env, settingFlags);
  const opts = { json: json === true, name, account, mode };
  switch (command) {
    case 'serve':
      return serveCommand(config);
    case 'dev':
      return devCommand(config, process.env, settingFlags);
    case 'migrate':
      return migrateCommand(config);
    case 'accounts':
      return accountsCommand(config, rest, opts);
    case 'keys':
      return keysCommand(config, rest, opts);
    case 'login-link':
      return loginLinkCommand(config, opts);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError || err instanceof ConfigError) {
      console.error(`harepost: ${err.message}`);
      if (err instanceof UsageError) console.error('Run "harepost help" for usage.');
      process.exitCode = 2;
    } else {
      console.error('harepost:', err instanceof Error ? err.message : err);
      process.exitCode = 1;
    }
  },
);
