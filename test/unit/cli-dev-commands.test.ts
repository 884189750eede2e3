/** The CLI lines `harepost dev` prints for another terminal (src/cli/dev.ts sandboxCommands). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { devConfig, sandboxCommands } from '../../src/cli/dev.js';
import { loadConfig } from '../../src/config.js';

const sandbox = (flags: Record<string, string> = {}) => devConfig(loadConfig({}, flags), {}, flags);

describe('harepost dev: the commands it prints', () => {
  it('name the sandbox store; the link base only when it is not the default one', () => {
    const { lines, note } = sandboxCommands(sandbox(), 'acct_1', 'http://127.0.0.1:8080');
    assert.deepEqual(lines, [
      'npx harepost login-link --account acct_1 --mode test --database-url ./.harepost/dev.db',
      'npx harepost keys list --account acct_1 --database-url ./.harepost/dev.db',
      "npx harepost accounts create --name 'Second app' --database-url ./.harepost/dev.db",
    ]);
    assert.equal(note, null);
    const elsewhere = sandboxCommands(sandbox(), 'acct_1', 'http://127.0.0.1:9090');
    assert.match(elsewhere.lines[0]!, / --public-url http:\/\/127\.0\.0\.1:9090 /);
  });

  it('quote a path the shell would split, and never print a database password', () => {
    const spaced = sandboxCommands(sandbox({ 'database-url': "/tmp/it's here/dev.db" }), 'acct_1', 'http://127.0.0.1:8080');
    assert.match(spaced.lines[1]!, / --database-url '\/tmp\/it'\\''s here\/dev\.db'$/);
    const pg = sandboxCommands(sandbox({ 'database-url': 'postgres://u:s3cret@127.0.0.1:5432/h' }), 'acct_1', 'http://127.0.0.1:8080');
    for (const line of pg.lines) {
      assert.doesNotMatch(line, /s3cret/);
      assert.match(line, / --database-url "\$HAREPOST_DATABASE_URL"$/);
    }
    assert.match(pg.note ?? '', /HAREPOST_DATABASE_URL/);
  });

  it('the sandbox keeps a store named by HAREPOST_DATABASE_URL or --database-url, else its own', () => {
    assert.equal(sandbox().databaseUrl, './.harepost/dev.db');
    assert.equal(sandbox({ 'database-url': './mine.db' }).databaseUrl, './mine.db');
    const env = { HAREPOST_DATABASE_URL: './env.db' };
    assert.equal(devConfig(loadConfig(env), env).databaseUrl, './env.db');
  });
});
