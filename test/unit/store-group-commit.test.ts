/**
 * GroupCommit (store/group-commit.ts): what is handed in during one turn of the event loop is one
 * commit; what comes while a commit runs waits and goes into the next one together (one commit at a
 * time); each caller gets its own item's result; a failed commit rejects its own callers only; a
 * batch over maxItems is committed in chunks; depth counts what waits and what is being committed;
 * with maxInFlight 2, two commits run at once and what comes while both run waits for either.
 * The commit is a fake whose every call is held open until the test ends it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GroupCommit } from '../../src/store/group-commit.js';

/** One call of the fake commit: the items it got, and how to end it. */
interface CommitCall {
  items: number[];
  succeed(): void;
  fail(err: Error): void;
}

/** A GroupCommit over a fake commit that answers each item `n` with `r<n>`, once the test says so. */
function setup(maxItems?: number, maxInFlight?: number) {
  const calls: CommitCall[] = [];
  const commit = (items: number[]): Promise<string[]> =>
    new Promise((resolve, reject) => {
      calls.push({ items: [...items], succeed: () => resolve(items.map((n) => `r${n}`)), fail: reject });
    });
  const gc =
    maxItems === undefined && maxInFlight === undefined
      ? new GroupCommit<number, string>(commit)
      : new GroupCommit<number, string>(commit, maxItems ?? 2000, maxInFlight ?? 1);
  return { gc, calls };
}

/** Lets the event loop turn until `cond` holds (at most 50 turns). */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 50 && !cond(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(cond(), 'the condition never came true');
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** How a caller's promise settles: its value, or `!<message>` when it is rejected (handled at once). */
const outcome = (p: Promise<string>): Promise<string> => p.then((v) => v, (e: Error) => `!${e.message}`);

describe('GroupCommit', () => {
  it('what is added in one turn is one commit, and each caller gets its own result, in order', async () => {
    const { gc, calls } = setup();
    const ps = [gc.add(1), gc.add(2), gc.add(3)];
    await until(() => calls.length === 1);
    assert.deepEqual(calls[0]!.items, [1, 2, 3]);
    calls[0]!.succeed();
    assert.deepEqual(await Promise.all(ps), ['r1', 'r2', 'r3']);
    await turn();
    assert.equal(calls.length, 1, 'one commit for all three');
  });

  it('nothing settles before its commit does', async () => {
    const { gc, calls } = setup();
    let done = false;
    void gc.add(1).then(() => (done = true));
    await until(() => calls.length === 1);
    await turn();
    assert.equal(done, false);
    calls[0]!.succeed();
    await until(() => done);
  });

  it('what comes while a commit runs waits for it, then goes into the next commit together', async () => {
    const { gc, calls } = setup();
    const first = gc.add(1);
    await until(() => calls.length === 1);
    const later = [gc.add(2)];
    await turn();
    later.push(gc.add(3));
    await turn();
    later.push(gc.add(4));
    await turn();
    assert.equal(calls.length, 1, 'one commit at a time');
    calls[0]!.succeed();
    assert.equal(await first, 'r1');
    await until(() => calls.length === 2);
    assert.deepEqual(calls[1]!.items, [2, 3, 4], 'all that waited, together, in the order added');
    calls[1]!.succeed();
    assert.deepEqual(await Promise.all(later), ['r2', 'r3', 'r4']);
  });

  it('a failed commit rejects every caller of its batch, and not the next batch', async () => {
    const { gc, calls } = setup();
    const batch1 = [gc.add(1), gc.add(2)].map(outcome);
    await until(() => calls.length === 1);
    const batch2 = [gc.add(3), gc.add(4)].map(outcome);
    calls[0]!.fail(new Error('disk full'));
    assert.deepEqual(await Promise.all(batch1), ['!disk full', '!disk full']);
    await until(() => calls.length === 2);
    assert.deepEqual(calls[1]!.items, [3, 4]);
    calls[1]!.succeed();
    assert.deepEqual(await Promise.all(batch2), ['r3', 'r4']);
  });

  it('a batch over maxItems is committed in chunks, one at a time; a failed chunk rejects only its own callers', async () => {
    const { gc, calls } = setup(2);
    const ps = [1, 2, 3, 4, 5].map((n) => outcome(gc.add(n)));
    await until(() => calls.length === 1);
    assert.deepEqual(calls[0]!.items, [1, 2]);
    calls[0]!.succeed();
    await until(() => calls.length === 2);
    assert.deepEqual(calls[1]!.items, [3, 4]);
    calls[1]!.fail(new Error('constraint'));
    await until(() => calls.length === 3);
    assert.deepEqual(calls[2]!.items, [5]);
    calls[2]!.succeed();
    assert.deepEqual(await Promise.all(ps), ['r1', 'r2', '!constraint', '!constraint', 'r5']);
  });

  it('depth counts the items waiting and those in the commit under way', async () => {
    const { gc, calls } = setup(2);
    assert.equal(gc.depth, 0);
    const ps = [gc.add(1), gc.add(2), gc.add(3)].map(outcome);
    assert.equal(gc.depth, 3, 'waiting');
    await until(() => calls.length === 1);
    assert.equal(gc.depth, 3, 'being committed');
    ps.push(outcome(gc.add(4)));
    assert.equal(gc.depth, 4, 'being committed and waiting');
    calls[0]!.succeed();
    await until(() => calls.length === 2);
    assert.deepEqual(calls[1]!.items, [3]);
    assert.equal(gc.depth, 2, 'a committed chunk no longer counts');
    calls[1]!.succeed();
    await until(() => calls.length === 3);
    assert.equal(gc.depth, 1);
    calls[2]!.fail(new Error('gone'));
    assert.deepEqual(await Promise.all(ps), ['r1', 'r2', 'r3', '!gone']);
    await turn();
    assert.equal(gc.depth, 0, 'a failed chunk no longer counts either');
  });

  it('drain settles once everything added so far is committed, including what came during a commit', async () => {
    const { gc, calls } = setup();
    void gc.add(1);
    await until(() => calls.length === 1);
    void gc.add(2);
    let drained = false;
    const draining = gc.drain().then(() => (drained = true));
    calls[0]!.succeed();
    await until(() => calls.length === 2);
    await turn();
    assert.equal(drained, false, 'the second commit is still under way');
    calls[1]!.succeed();
    await draining;
    assert.equal(drained, true);
    assert.equal(gc.depth, 0);
  });

  it('a commit that answers synchronously works the same', async () => {
    const seen: number[][] = [];
    const gc = new GroupCommit<number, number>((items) => {
      seen.push(items);
      return items.map((n) => n * 10);
    });
    assert.deepEqual(await Promise.all([gc.add(1), gc.add(2)]), [10, 20]);
    assert.deepEqual(seen, [[1, 2]]);
  });

  it('maxInFlight 2: a second commit starts while the first runs; a third waits for either to end, with all that came meanwhile', async () => {
    const { gc, calls } = setup(undefined, 2);
    const a = gc.add(1);
    await until(() => calls.length === 1);
    const b = gc.add(2);
    await until(() => calls.length === 2);
    assert.deepEqual(calls[1]!.items, [2], 'the second commit did not wait for the first');
    const later = [gc.add(3)];
    await turn();
    later.push(gc.add(4));
    await turn();
    await turn();
    assert.equal(calls.length, 2, 'no third commit while two run');
    assert.equal(gc.depth, 4);
    calls[1]!.succeed(); // the second ends first
    assert.equal(await b, 'r2');
    await until(() => calls.length === 3);
    assert.deepEqual(calls[2]!.items, [3, 4], 'all that waited, together');
    let drained = false;
    void gc.drain().then(() => (drained = true));
    calls[2]!.succeed();
    assert.deepEqual(await Promise.all(later), ['r3', 'r4']);
    await turn();
    assert.equal(drained, false, 'drain waits for the first commit, still running');
    calls[0]!.succeed();
    assert.equal(await a, 'r1');
    await until(() => drained);
    assert.equal(gc.depth, 0);
  });
});
