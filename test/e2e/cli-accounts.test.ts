/**
 * `harepost accounts list|show|suspend|resume|delete` (issue 15 item 1: the CLI mirrors the
 * operator API), as a child process on the database of a running service: what the CLI does is
 * what the service's API then answers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type CliResult, runCli, showCli } from '../support/run-cli.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

/** The single JSON line a `--json` command prints. */
function jsonLine(r: CliResult): any {
  assert.equal(r.code, 0, showCli(r));
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, showCli(r));
  return JSON.parse(lines[0]!);
}

describe('harepost accounts (the operator CLI)', () => {
  let stack: Stack;
  let acct: TestAccount;
  let other: TestAccount;
  const cli = (...args: string[]) => runCli(['accounts', ...args], { HAREPOST_DATABASE_URL: stack.env.HAREPOST_DATABASE_URL! });

  before(async () => {
    stack = await startStack();
    acct = await stack.createAccount('Cli One');
    other = await stack.createAccount('Cli Two');
    await stack.verifyDomain(acct.live_key, 'cli.example.test');
  });
  after(async () => stack?.close());

  it('list shows every account, newest first; --json in the operator API shape', async () => {
    const listed = jsonLine(await cli('list', '--json'));
    const ids = listed.data.map((a: { id: string }) => a.id);
    assert.deepEqual(ids.slice(0, 2), [other.account_id, acct.account_id]);
    const one = listed.data.find((a: { id: string }) => a.id === acct.account_id);
    assert.equal(one.name, 'Cli One');
    assert.equal(one.suspended, false);
    assert.equal(one.erasing, false);
    assert.deepEqual(Object.keys(one.limits).sort(), ['max_destinations', 'max_domains', 'max_keys', 'max_pending_deliveries']);
    const text = await cli('list');
    assert.equal(text.code, 0, showCli(text));
    assert.match(text.stdout, new RegExp(`${acct.account_id}\\s+active\\s+\\S+\\s+Cli One`));
  });

  it('show gives its limits and usage; an unknown id exits 1', async () => {
    const shown = jsonLine(await cli('show', acct.account_id, '--json'));
    assert.equal(shown.id, acct.account_id);
    assert.deepEqual(shown.usage, { destinations: 0, keys: 2, domains: 1, pending_deliveries: 0 });
    const text = await cli('show', acct.account_id);
    assert.match(text.stdout, /max_domains\s+\d+ \(default\)\s+in use: 1/);
    const none = await cli('show', 'acct_not_there');
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no account acct_not_there/);
    const usage = await cli('show');
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /usage: harepost accounts show ACCOUNT_ID/);
  });

  it('suspend: its keys get 403 account_suspended from the running service; resume: they work again', async () => {
    const suspended = jsonLine(await cli('suspend', acct.account_id, '--json'));
    assert.equal(suspended.suspended, true);
    const refused = await stack.api('GET', '/v1/domains', { key: acct.live_key });
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.body.error.code, 'account_suspended');
    assert.equal((await stack.api('GET', '/v1/domains', { key: other.live_key })).status, 200);
    const resumed = await cli('resume', acct.account_id);
    assert.equal(resumed.code, 0, showCli(resumed));
    assert.match(resumed.stdout, /^resumed acct_/);
    assert.equal((await stack.api('GET', '/v1/domains', { key: acct.live_key })).status, 200);
  });

  it('delete erases the account and what it owns; the service no longer knows its keys', async () => {
    const sent = await stack.api('POST', '/v1/send', { key: acct.live_key, body: { target: stack.target('/cli', 'cli.example.test') } });
    assert.equal(sent.status, 202, sent.text);
    await waitFor(async () => (await stack.hp.store.accountUsage(acct.account_id)).pending_deliveries === 0, { message: 'delivered' });
    const erased = jsonLine(await cli('delete', acct.account_id, '--json'));
    assert.deepEqual(erased, { id: acct.account_id, erased: true });
    assert.equal(await stack.hp.store.getAccount(acct.account_id), null);
    assert.equal(await stack.hp.store.getDelivery(acct.account_id, 'live', sent.body.queue_id), null);
    assert.deepEqual(await stack.hp.store.listDomains(acct.account_id), []);
    assert.equal((await stack.api('GET', '/v1/domains', { key: acct.live_key })).status, 401);
    assert.equal((await stack.api('GET', '/v1/domains', { key: other.live_key })).status, 200);
    const again = await cli('delete', acct.account_id);
    assert.equal(again.code, 1);
    const unknown = await cli('frobnicate');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /usage: harepost accounts create/);
  });
});
