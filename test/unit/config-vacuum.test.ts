import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('HAREPOST_VACUUM_INTERVAL_MS', () => {
  it('defaults to 10 s, takes 0 for off and a whole number of ms from 1000', () => {
    assert.equal(loadConfig({}).vacuumIntervalMs, 10_000);
    assert.equal(loadConfig({ HAREPOST_VACUUM_INTERVAL_MS: '0' }).vacuumIntervalMs, 0);
    assert.equal(loadConfig({ HAREPOST_VACUUM_INTERVAL_MS: '60000' }).vacuumIntervalMs, 60_000);
  });

  it('refuses anything else, naming the setting', () => {
    for (const bad of ['500', '-1', '1.5', 'often']) {
      assert.throws(
        () => loadConfig({ HAREPOST_VACUUM_INTERVAL_MS: bad }),
        (err: unknown) => err instanceof ConfigError && /HAREPOST_VACUUM_INTERVAL_MS must be 0 \(off\) or a whole number/.test(err.message),
        bad,
      );
    }
  });
});
