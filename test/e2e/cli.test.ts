/**
 * The real `harepost` CLI as a child process (SPEC §2 keys, §11 CLI): accounts and keys on a
 * SQLite file, keys stored only as hashes, revocation seen by a service on the same file.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { type Harepost, startHarepost } from '../../src/cli/compose.js';
import { loadConfig } from '../../src/config.js';
import { type CliResult, runCli as runCliWith, showCli as show } from '../support/run-cli.js';

const LIVE_KEY = /^hp_live_[A-Za-z0-9]{32,}$/;
const TEST_KEY = /^hp_test_[A-Za-z0-9]{32,}$/;

/** Runs `node --import tsx src/cli/main.ts ...args` with HAREPOST_DATABASE_URL set to `db`. */
function runCli(db: string, args: string[]): Promise<CliResult> {
  return runCliWith(args, { HAREPOST_DATABASE_URL: db });
}

/** The single JSON line a `--json` command prints. */
function jsonLine(r: CliResult): any {
  assert.equal(r.code, 0, show(r));
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `expected exactly one line on stdout:\n${show(r)}`);
  assert.equal(r.stdout.endsWith('\n'), true);
  return JSON.parse(lines[0]!);
}

describe('harepost CLI', () => {
  let dir: string;
  let db: string;
  let created: CliResult;
  let account: { account_id: string; live_key: string; test_key: string };
  let extra: { id: string; mode: string; key: string; prefix: string; created_at: string };
  let hp: Harepost | undefined;

  const callApi = async (key: string) => {
    const res = await request(`${hp!.url}/v1/deliveries`, { method: 'GET', headers: { authorization: `Bearer ${key}` } });
    const text = await res.body.text();
    return { status: res.statusCode, text, body: text ? JSON.parse(text) : undefined };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'harepost-cli-'));
    db = join(dir, 'h.db');
    created = await runCli(db, ['accounts', 'create', '--name', 'Acme', '--json']);
  });

  after(async () => {
    await hp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('accounts create --name Acme --json prints exactly one JSON line {account_id, live_key, test_key}', () => {
    const out = jsonLine(created);
    assert.deepEqual(Object.keys(out).sort(), ['account_id', 'live_key', 'test_key']);
    assert.match(out.account_id, /^acct_[A-Za-z0-9]+$/);
    assert.match(out.live_key, LIVE_KEY);
    assert.match(out.test_key, TEST_KEY);
    assert.notEqual(out.live_key.slice(8), out.test_key.slice(8));
    account = out;
  });

  it('accounts create twice gives two different accounts and keys', async () => {
    const again = jsonLine(await runCli(db, ['accounts', 'create', '--name', 'Other', '--json']));
    assert.notEqual(again.account_id, account.account_id);
    assert.notEqual(again.live_key, account.live_key);
    assert.notEqual(again.test_key, account.test_key);
  });

  it('keys create --account ID --mode test --json prints the new key once', async () => {
    const r = await runCli(db, ['keys', 'create', '--account', account.account_id, '--mode', 'test', '--json']);
    const out = jsonLine(r);
    assert.deepEqual(Object.keys(out).sort(), ['created_at', 'id', 'key', 'mode', 'prefix']);
    assert.match(out.id, /^key_[A-Za-z0-9]+$/);
    assert.equal(out.mode, 'test');
    assert.match(out.key, TEST_KEY);
    assert.equal(typeof out.prefix, 'string');
    assert.equal(out.key.startsWith(out.prefix), true, `prefix ${out.prefix} is not the start of the key`);
    assert.ok(out.prefix.length >= 'hp_test_'.length && out.prefix.length <= 16, `prefix ${out.prefix}`);
    assert.match(out.created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/);
    assert.notEqual(out.key, account.test_key);
    extra = out;
  });

  it('keys create refuses an unknown --mode with exit 2', async () => {
    const r = await runCli(db, ['keys', 'create', '--account', account.account_id, '--mode', 'staging', '--json']);
    assert.equal(r.code, 2, show(r));
    assert.equal(r.stdout, '', show(r));
    assert.match(r.stderr, /mode/);
  });

  it('keys list --account ID --json shows ids, modes and prefixes, never a full key', async () => {
    const r = await runCli(db, ['keys', 'list', '--account', account.account_id, '--json']);
    const out = jsonLine(r);
    assert.ok(Array.isArray(out.data), show(r));
    assert.equal(out.data.length, 3, show(r));
    const modes = out.data.map((k: { mode: string }) => k.mode).sort();
    assert.deepEqual(modes, ['live', 'test', 'test']);
    for (const k of out.data) {
      assert.match(k.id, /^key_[A-Za-z0-9]+$/);
      assert.equal(typeof k.prefix, 'string');
      assert.equal('key' in k, false, `a listed key carries "key": ${JSON.stringify(k)}`);
    }
    const ids = out.data.map((k: { id: string }) => k.id);
    assert.equal(ids.includes(extra.id), true);
    const listedExtra = out.data.find((k: { id: string }) => k.id === extra.id);
    assert.equal(listedExtra.prefix, extra.prefix);
    assert.equal(listedExtra.mode, 'test');
    assert.equal(
      out.data.some((k: { prefix: string }) => account.live_key.startsWith(k.prefix)),
      true,
      'the live key of accounts create is listed by its prefix',
    );
    for (const key of [account.live_key, account.test_key, extra.key]) {
      assert.equal(r.stdout.includes(key), false, `keys list printed a full key`);
      assert.equal(r.stdout.includes(key.slice(12)), false, `keys list printed the secret part of a key`);
    }
  });

  it('stores no key in plain text in the database file (db, -wal, -shm)', () => {
    const files = [db, `${db}-wal`, `${db}-shm`].filter((f) => existsSync(f));
    assert.ok(files.includes(db), `database file ${db} missing`);
    const keys = [account.live_key, account.test_key, extra.key];
    for (const f of files) {
      const bytes = readFileSync(f);
      for (const key of keys) {
        assert.equal(bytes.includes(Buffer.from(key, 'utf8')), false, `${f} contains a full key`);
        assert.equal(bytes.includes(Buffer.from(key.slice(12), 'utf8')), false, `${f} contains the secret part of a key`);
        assert.equal(bytes.includes(Buffer.from(key, 'utf16le')), false, `${f} contains a full key (UTF-16)`);
      }
    }
  });

  it('keys revoke KEY_ID: a service on the same file then answers 401 for that key, other keys still work', async () => {
    hp = await startHarepost(
      loadConfig({
        HAREPOST_DATABASE_URL: db,
        HAREPOST_HOST: '127.0.0.1',
        HAREPOST_PORT: '0',
        HAREPOST_ROLE: 'api',
        HAREPOST_LOG_LEVEL: 'silent',
      }),
    );
    // Before: the CLI-made keys authenticate.
    const beforeExtra = await callApi(extra.key);
    assert.equal(beforeExtra.status, 200, beforeExtra.text);
    assert.deepEqual(beforeExtra.body.data, []);
    assert.equal((await callApi(account.live_key)).status, 200);
    assert.equal((await callApi(account.test_key)).status, 200);

    const r = await runCli(db, ['keys', 'revoke', extra.id]);
    assert.equal(r.code, 0, show(r));

    const afterExtra = await callApi(extra.key);
    assert.equal(afterExtra.status, 401, afterExtra.text);
    assert.match(afterExtra.body.error.code, /^[a-z][a-z0-9_]*$/);
    assert.equal(typeof afterExtra.body.error.message, 'string');
    // The account's other keys are untouched.
    assert.equal((await callApi(account.live_key)).status, 200);
    assert.equal((await callApi(account.test_key)).status, 200);

    const listed = jsonLine(await runCli(db, ['keys', 'list', '--account', account.account_id, '--json']));
    const row = listed.data.find((k: { id: string }) => k.id === extra.id);
    assert.notEqual(row, undefined, 'a revoked key is still listed');
    assert.equal(typeof row.revoked_at, 'string', `revoked key shows revoked_at: ${JSON.stringify(row)}`);
  });

  it('keys revoke of an unknown key id fails (non-zero exit)', async () => {
    const r = await runCli(db, ['keys', 'revoke', 'key_doesnotexist']);
    assert.notEqual(r.code, 0, show(r));
    assert.notEqual(r.stderr.trim(), '', show(r));
  });

  it('accounts create without --name exits 2 with a message and prints no account', async () => {
    const r = await runCli(db, ['accounts', 'create', '--json']);
    assert.equal(r.code, 2, show(r));
    assert.equal(r.stdout, '', show(r));
    assert.match(r.stderr, /--name/);
  });

  it('an unknown command exits 2 with a message', async () => {
    const r = await runCli(db, ['frobnicate']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /frobnicate/);
  });
});
