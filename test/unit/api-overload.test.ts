/**
 * The load shedder's store bounds (commit queue, database pool waiting) and the group commit's
 * depth they read: past a bound every API route answers 503 overloaded with Retry-After, /readyz
 * 503, /healthz and /metrics 200; back under it, requests pass again.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { Client } from 'undici';
import { EventLoopDelay, holdConnection, installLoadShedding, TurnWatch } from '../../src/api/overload.js';
import { GroupCommit } from '../../src/store/group-commit.js';
import type { Store, StorePressure } from '../../src/store/store.js';

function appWith(pressure: StorePressure, bounds: { maxCommitQueue: number; maxPoolWaiting: number }) {
  const store = { pressure: () => pressure } as unknown as Store;
  const registry = new Registry();
  const app = Fastify();
  installLoadShedding(app, store, { maxEventLoopDelayMs: 0, ...bounds }, registry);
  app.post('/v1/send', async () => ({ queued: true }));
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => ({ status: 'ready' }));
  app.get('/metrics', async () => registry.metrics());
  return app;
}

describe('load shedding on store pressure', () => {
  for (const [name, bounds, reason] of [
    ['commit queue', { maxCommitQueue: 10, maxPoolWaiting: 0 }, 'commit_queue'],
    ['pool waiting', { maxCommitQueue: 0, maxPoolWaiting: 5 }, 'pool_waiting'],
  ] as const) {
    it(`sheds past the ${name} bound, and only past it`, async () => {
      const pressure = { commitQueue: 0, poolWaiting: 0 };
      const app = appWith(pressure, bounds);
      assert.equal((await app.inject({ method: 'POST', url: '/v1/send', payload: {} })).statusCode, 200);

      pressure.commitQueue = 10;
      pressure.poolWaiting = 5;
      const shed = await app.inject({ method: 'POST', url: '/v1/send', payload: {} });
      assert.equal(shed.statusCode, 503);
      assert.equal(shed.headers['retry-after'], '1');
      assert.equal(shed.json().error.code, 'overloaded');
      assert.match(shed.json().error.message, /overloaded/);
      assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 503);
      assert.deepEqual((await app.inject({ method: 'GET', url: '/readyz' })).json(), { status: 'unavailable' });
      assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
      const metrics = await app.inject({ method: 'GET', url: '/metrics?x=1' });
      assert.equal(metrics.statusCode, 200);
      assert.match(metrics.body, new RegExp(`harepost_requests_shed_total\\{reason="${reason}"\\} 1`));

      pressure.commitQueue = 9;
      pressure.poolWaiting = 4;
      assert.equal((await app.inject({ method: 'POST', url: '/v1/send', payload: {} })).statusCode, 200);
      assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
      await app.close();
    });
  }

  it('installs nothing when every bound is 0', async () => {
    const app = appWith({ commitQueue: 1e9, poolWaiting: 1e9 }, { maxCommitQueue: 0, maxPoolWaiting: 0 });
    assert.equal((await app.inject({ method: 'POST', url: '/v1/send', payload: {} })).statusCode, 200);
    await app.close();
  });
});

describe('GroupCommit depth', () => {
  it('counts items waiting for a commit and in the one under way, and drops to 0 after', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gc = new GroupCommit<number, number>(async (items) => {
      await gate;
      return items;
    });
    const first = [gc.add(1), gc.add(2), gc.add(3)];
    assert.equal(gc.depth, 3, 'waiting for the first commit');
    await new Promise((r) => setImmediate(r)); // the commit of 1-3 starts and waits on the gate
    const second = gc.add(4);
    assert.equal(gc.depth, 4, 'three in the commit under way, one waiting');
    release();
    assert.deepEqual(await Promise.all([...first, second]), [1, 2, 3, 4]);
    await gc.drain();
    assert.equal(gc.depth, 0);
  });

  it('a failed commit leaves nothing counted', async () => {
    const gc = new GroupCommit<number, number>(async () => {
      throw new Error('connection terminated');
    });
    await assert.rejects(gc.add(1));
    await gc.drain();
    assert.equal(gc.depth, 0);
  });
});

describe('EventLoopDelay', () => {
  const block = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until) {
      // held
    }
  };

  it('ignores one long stall, reports a loop that is late window after window', async () => {
    const loop = new EventLoopDelay(50);
    try {
      await sleep(120);
      block(400); // one stall, as at start-up
      await sleep(130);
      assert.ok(loop.sustained() < 50, `one stall is not sustained delay (${loop.sustained()} ms)`);

      // saturated: held 40 ms out of every ~42, for six windows
      const end = performance.now() + 300;
      while (performance.now() < end) {
        block(40);
        await sleep(2);
      }
      assert.ok(loop.sustained() > 20, `a saturated loop is (${loop.sustained()} ms)`);
    } finally {
      loop.stop();
    }
  });
});

describe('TurnWatch: connections waiting to be taken', () => {
  const block = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until) {
      // a turn made long, as reading many calls makes it
    }
  };
  /** One turn of the event loop: its work, then the end of the turn (the watch's check runs first). */
  const turn = async (work: () => void) => {
    work();
    await new Promise((r) => setImmediate(r));
  };

  it('lets 4 calls a turn through once backlogTurns long turns in a row have taken a connection each, while turns go on taking one; all again after a turn that takes none', async () => {
    const server = new EventEmitter();
    const watch = new TurnWatch(server, { backlogTurns: 8 });
    const calls = (n: number) => Array.from({ length: n }, () => watch.admit()).filter(Boolean).length;
    await turn(() => void watch.admit()); // the watch's first turn
    // short turns that take a connection each do not start a run (a process keeping up)
    for (let i = 0; i < 20; i++) await turn(() => void (server.emit('connection'), assert.equal(calls(10), 10)));
    const turns: Array<{ i: number; waiting: boolean; admitted: number }> = [];
    for (let i = 0; i < 30; i++) {
      await turn(() => {
        const waiting = watch.connectionsWaiting;
        if (i < 15) block(7); // long turns start the run; once it runs, short ones continue it
        server.emit('connection');
        turns.push({ i, waiting, admitted: calls(10) });
      });
    }
    for (const t of turns) assert.equal(t.admitted, t.waiting ? 4 : 10, JSON.stringify(t));
    // decided at the end of each turn: the 8 turns of the run let everything through, then it sheds
    assert.deepEqual(
      turns.map((t) => t.waiting),
      turns.map((t) => t.i >= 8),
      JSON.stringify(turns),
    );
    await turn(() => void calls(10)); // this turn took no connection…
    assert.equal(watch.connectionsWaiting, false);
    await turn(() => void assert.equal(calls(10), 10)); // …so everything is let through again
  });

  it('64 connections taken one a turn, each turn long, are not a queue (a burst, not a backlog)', async () => {
    const server = new EventEmitter();
    const watch = new TurnWatch(server);
    const admitted: number[] = [];
    for (let i = 0; i < 64; i++) {
      await turn(() => {
        block(7);
        server.emit('connection');
        admitted.push(Array.from({ length: 10 }, () => watch.admit()).filter(Boolean).length);
      });
    }
    assert.deepEqual(admitted, Array(64).fill(10));
  });

});

describe('a call shed while connections wait holds its connection for its Retry-After', () => {
  it('the next call on that connection is read a second later; another connection is answered at once', async () => {
    // what the shedder does for reason accept_backlog (real sockets: TurnWatch's sign needs a saturated process)
    const app = Fastify();
    app.post('/v1/send', async (request, reply) => {
      holdConnection(request, reply, 1000);
      return reply.code(503).header('retry-after', '1').send({ error: { code: 'overloaded' } });
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const held = new Client(origin, { pipelining: 1 });
    const other = new Client(origin, { pipelining: 1 });
    try {
      const call = async (c: Client) => {
        const t0 = performance.now();
        const res = await c.request({ method: 'POST', path: '/v1/send', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
        await res.body.text();
        return { status: res.statusCode, ms: performance.now() - t0 };
      };
      assert.equal((await call(held)).status, 503);
      const [again, elsewhere] = await Promise.all([call(held), call(other)]);
      assert.equal(again.status, 503);
      assert.ok(again.ms >= 900, `the held connection was read after ${again.ms.toFixed(0)} ms`);
      assert.equal(elsewhere.status, 503);
      assert.ok(elsewhere.ms < 500, `another connection waited ${elsewhere.ms.toFixed(0)} ms`);
    } finally {
      await held.close();
      await other.close();
      await app.close();
    }
  });
});
