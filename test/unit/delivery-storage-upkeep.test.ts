import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StorageUpkeep } from '../../src/delivery/storage-upkeep.js';
import type { UpkeepAction } from '../../src/store/store.js';
import { capturedLogger } from '../support/captured-logger.js';

/** A trace-level logger and its lines, parsed. */
function logged() {
  const raw: string[] = [];
  const logger = capturedLogger(raw);
  return { logger, get lines() { return raw.map((l) => JSON.parse(l) as Record<string, unknown>); } };
}
const LEVEL: Record<string, number> = { debug: 20, warn: 40 };
import { waitFor } from '../support/wait.js';

const action = (over: Partial<UpkeepAction> = {}): UpkeepAction => ({ table: 'deliveries', vacuumed: true, analyzed: false, dead: 5000, ms: 12, ...over });

describe('StorageUpkeep', () => {
  it('asks the store on its interval, one pass at a time, and stops', async () => {
    let calls = 0;
    let release: (() => void) | null = null;
    const store = {
      upkeep: () => {
        calls++;
        return new Promise<UpkeepAction[]>((resolve) => (release = () => resolve([action()])));
      },
    };
    const upkeep = new StorageUpkeep({ store, intervalMs: 5, logger: logged().logger });
    upkeep.start();
    await waitFor(() => calls === 1);
    await new Promise((r) => setTimeout(r, 30)); // several intervals pass while the first is running
    assert.equal(calls, 1, 'a pass is not started while one runs');
    const stopped = upkeep.stop();
    release!();
    await stopped;
    const after = calls;
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(calls, after, 'no pass after stop');
  });

  it('logs what it did, warns on a slow vacuum, and survives a failing store without leaking its message', async () => {
    const log = logged();
    let fail = false;
    const store = {
      upkeep: async () => {
        if (fail) throw new Error('connection refused');
        return [action(), action({ table: 'attempts', ms: 12_000 })];
      },
    };
    const upkeep = new StorageUpkeep({ store, intervalMs: 0, logger: log.logger });
    upkeep.start(); // interval 0: off, never scheduled
    assert.equal((await upkeep.runOnce()).length, 2);
    assert.ok(log.lines.some((l) => l.level === LEVEL.debug && l.table === 'deliveries' && l.dead_rows === 5000));
    assert.ok(log.lines.some((l) => l.level === LEVEL.warn && l.table === 'attempts' && /slow vacuum/.test(String(l.msg))));
    fail = true;
    assert.deepEqual(await upkeep.runOnce(), [], 'a failed pass resolves empty');
    assert.ok(log.lines.some((l) => l.level === LEVEL.warn && /upkeep failed/.test(String(l.msg)) && l.err === 'connection refused'));
    await upkeep.stop();
  });
});
