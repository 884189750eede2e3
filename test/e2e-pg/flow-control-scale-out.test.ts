/**
 * Flow control across processes on PostgreSQL: one `serve --role api` and three
 * `serve --role worker` processes on one database. A destination's `max_in_flight` and
 * `rate_limit` are limits for all of them together, not per process: the receiver never has more
 * than max_in_flight requests of the destination at once, and no 1-second window holds more
 * arrivals than the rate allows — while the work is spread over several workers.
 *
 * Which worker sent a request is read from Linux's socket tables (/proc/net/tcp and
 * /proc/<pid>/fd), as in scale-out.test.ts: nothing in Harepost is instrumented for this.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { TestPki } from '../support/ca.js';
import { InFlightGauge, maxInWindow } from '../support/flow.js';
import { freePort } from '../support/free-port.js';
import { harepostProcesses, listenHttps, socketOwners, type HarepostProcesses } from '../support/harepost-processes.js';
import { postgresAvailable } from '../support/postgres.js';
import { sleep, waitFor } from '../support/wait.js';

const WORKERS = 3;

const base = await postgresAvailable();

// ---------------------------------------------------------------------------------------------
// A receiver that knows which process each request came from

interface Hit {
  path: string;
  queueId: string;
  /** Date.now() when the request (body included) had arrived. */
  arrivedAt: number;
  /** The client's port on 127.0.0.1: which worker holds it is looked up in /proc. */
  remotePort: number;
  pid: number | null;
}

interface AttributingReceiver {
  port: number;
  hits: Hit[];
  /** How requests on a path are answered: a delay before 200 (default none). */
  delayFor: Map<string, number>;
  /** In-flight gauge per path (created on first use). */
  gauge(path: string): InFlightGauge;
  close(): Promise<void>;
}

async function startAttributingReceiver(pki: TestPki, workerPids: () => readonly number[]): Promise<AttributingReceiver> {
  const hits: Hit[] = [];
  const delayFor = new Map<string, number>();
  const gauges = new Map<string, InFlightGauge>();
  const gauge = (path: string) => {
    let g = gauges.get(path);
    if (!g) gauges.set(path, (g = new InFlightGauge()));
    return g;
  };
  /** Owner of each client port, looked up once per connection while it is open. */
  const ownerOfPort = new Map<number, number | null>();
  let port = 0;

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    req.on('error', () => undefined);
    req.resume();
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0]!;
      const done = gauge(path).enter();
      const remotePort = req.socket.remotePort ?? 0;
      const hit: Hit = { path, queueId: String(req.headers['x-harepost-queue-id'] ?? ''), arrivedAt: Date.now(), remotePort, pid: null };
      hits.push(hit);
      if (!ownerOfPort.has(remotePort) || ownerOfPort.get(remotePort) === null) {
        ownerOfPort.set(remotePort, socketOwners(workerPids(), port).get(remotePort) ?? null);
      }
      hit.pid = ownerOfPort.get(remotePort) ?? null;
      const answer = () => {
        done();
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
        res.end('ok');
      };
      const delay = delayFor.get(path) ?? 0;
      if (delay > 0) setTimeout(answer, delay);
      else answer();
      res.on('close', done); // a connection that goes away ends the request too
    });
  };

  const server = await listenHttps(pki, handler, (tls) => {
    // a new connection may reuse a port an earlier one had: look its owner up afresh
    ownerOfPort.delete(tls.remotePort ?? 0);
  });
  port = server.port;
  return {
    port,
    hits,
    delayFor,
    gauge,
    close: () => server.close(),
  };
}

// ---------------------------------------------------------------------------------------------

describe('flow control across processes on PostgreSQL: 1 api + 3 workers', { skip: base === null ? 'PostgreSQL unreachable (not CI)' : false }, () => {
  let hp: HarepostProcesses;
  let receiver: AttributingReceiver;
  const workerPids = () => hp.workerPids();
  const api = (method: string, path: string, body?: unknown) => hp.api(method, path, body);
  const logs = () => hp.logs(1500);

  async function newDestination(path: string, extra: Record<string, unknown>): Promise<string> {
    const r = await api('POST', '/v1/destinations', { url: `https://hooks.example.test:${receiver.port}${path}`, ...extra });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.id as string;
  }

  /** Publishes `count` events of `type` (a few at a time); returns the queue_ids for `destinationId`. */
  async function publish(type: string, count: number, destinationId: string): Promise<string[]> {
    const ids: string[] = [];
    let next = 0;
    const sender = async () => {
      while (next < count) {
        const i = next++;
        const r = await api('POST', '/v1/events', { type, body: { i } });
        assert.equal(r.status, 202, JSON.stringify(r.body));
        for (const d of r.body.deliveries) if (d.destination_id === destinationId) ids.push(d.queue_id);
      }
    };
    await Promise.all(Array.from({ length: 4 }, sender));
    return ids;
  }

  /** Waits until the store records every one of `ids` delivered. */
  async function allDelivered(ids: readonly string[], timeoutMs: number, what: string): Promise<void> {
    await waitFor(
      async () => {
        const r = await hp.db.query(`SELECT count(*)::int AS n FROM ${hp.schema}.deliveries WHERE id = ANY($1::text[]) AND status = 'delivered'`, [ids]);
        return r.rows[0].n === ids.length;
      },
      { timeoutMs, intervalMs: 100, message: `${what}: not every delivery was recorded delivered` },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nworker logs:\n${logs()}`);
    });
  }

  function report(path: string, ids: readonly string[]) {
    const hits = receiver.hits.filter((h) => h.path === path);
    const perId = new Map<string, number>();
    for (const h of hits) perId.set(h.queueId, (perId.get(h.queueId) ?? 0) + 1);
    const duplicates = [...perId.values()].reduce((n, c) => n + (c - 1), 0);
    const perPid = new Map<number | null, number>();
    for (const h of hits) perPid.set(h.pid, (perPid.get(h.pid) ?? 0) + 1);
    const strangers = [...perId.keys()].filter((id) => !ids.includes(id));
    const missing = ids.filter((id) => !perId.has(id));
    return { hits, duplicates, perPid, strangers, missing };
  }

  const workersSeen = new Set<number>();

  before(async () => {
    hp = await harepostProcesses(base!, {
      tmpPrefix: 'harepost-flow-scale-',
      accountName: 'Flow control scale-out',
      env: { HAREPOST_BREAKER_FAILURES: '1000' },
    });
    receiver = await startAttributingReceiver(hp.pki, workerPids);
    hp.spawnServe('api', await freePort());
    for (let i = 0; i < WORKERS; i++) hp.spawnServe('worker', await freePort());
    await hp.allReady();
  });

  after(async () => {
    await hp?.close();
    await receiver?.close();
  });

  it('max_in_flight 3 holds for all workers together: the receiver never has more than 3 requests at once', { timeout: 120_000 }, async () => {
    assert.ok(existsSync('/proc/net/tcp'), 'this test tells which process sent a request through Linux /proc');
    const path = '/flow/cap';
    receiver.delayFor.set(path, 300);
    const dest = await newDestination(path, { events: ['flow.cap'], max_in_flight: 3 });
    const ids = await publish('flow.cap', 30, dest);
    assert.equal(ids.length, 30);
    await allDelivered(ids, 60_000, 'max_in_flight 3');
    await sleep(200); // answers still being closed
    const g = receiver.gauge(path);
    const r = report(path, ids);
    for (const pid of r.perPid.keys()) if (pid !== null) workersSeen.add(pid);
    console.log(
      `flow scale-out, max_in_flight 3: ${r.hits.length} requests for ${ids.length} deliveries, ${r.duplicates} duplicates; ` +
        `peak in flight at the receiver ${g.peak}; per worker pid ${[...r.perPid].map(([p, n]) => `${p ?? 'unattributed'}=${n}`).join(', ')}`,
    );
    assert.deepEqual(r.strangers, [], 'only this destination’s deliveries on its path');
    assert.deepEqual(r.missing, [], 'every delivery reached the receiver');
    assert.equal(r.duplicates, 0, 'no worker crashed, so no delivery was attempted twice');
    assert.ok(g.peak <= 3, `${g.peak} requests of the destination were in flight at once across the workers (max_in_flight 3)`);
    assert.equal(g.current, 0);
    // 30 requests held 300 ms, at most 3 at a time: at least 10 × 300 ms from first arrival to last answer
    const span = Math.max(...g.spans.map((s) => s[1] ?? 0)) - Math.min(...g.spans.map((s) => s[0]));
    assert.ok(span >= 10 * 300 - 50, `30 × 300 ms requests, 3 at a time, took only ${span} ms`);
    for (const pid of r.perPid.keys()) assert.ok(pid === null || workerPids().includes(pid), `request from unknown pid ${pid}`);
  });

  it('rate_limit 20/s holds for all workers together: no 1 s window holds more than 20 + 2 (+1 skew) attempt starts', { timeout: 120_000 }, async () => {
    const path = '/flow/rate';
    const dest = await newDestination(path, { events: ['flow.rate'], rate_limit: { per_second: 20 } });
    const ids = await publish('flow.rate', 60, dest);
    assert.equal(ids.length, 60);
    await allDelivered(ids, 60_000, 'rate_limit 20/s');
    const r = report(path, ids);
    for (const pid of r.perPid.keys()) if (pid !== null) workersSeen.add(pid);
    const arrivals = r.hits.map((h) => h.arrivedAt);
    const worst = maxInWindow(arrivals, 1000);
    const spanMs = Math.max(...arrivals) - Math.min(...arrivals);
    // for the report: the same measure on when the workers started each attempt (their clocks, the store's record)
    const started = (
      await hp.db.query(
        `SELECT a.created_at::float8 AS at FROM ${hp.schema}.attempts a JOIN ${hp.schema}.deliveries d ON d.seq = a.delivery_seq WHERE d.id = ANY($1::text[])`,
        [ids],
      )
    ).rows.map((row: { at: number }) => Number(row.at));
    const worstStarted = maxInWindow(started, 1000);
    console.log(
      `flow scale-out, rate_limit 20/s: ${r.hits.length} requests for ${ids.length} deliveries, ${r.duplicates} duplicates; ` +
        `at most ${worst.count} arrivals in a 1 s window (from +${worst.from! - Math.min(...arrivals)} ms), ` +
        `at most ${worstStarted.count} attempt starts (as recorded) in one; first to last ${spanMs} ms; ` +
        `per worker pid ${[...r.perPid].map(([p, n]) => `${p ?? 'unattributed'}=${n}`).join(', ')}`,
    );
    assert.deepEqual(r.strangers, []);
    assert.deepEqual(r.missing, [], 'every delivery reached the receiver');
    assert.equal(r.duplicates, 0, 'no worker crashed, so no delivery was attempted twice');
    // GCRA at 20/s with bursts of ceil(20/10) = 2: at most 20 + 2 claims in any 1 s window, all
    // workers together. Judged on the attempt starts the workers recorded (each a few ms after its
    // claim: +1 for that skew), not on arrivals: with three processes and the rest of the suite on
    // two cores, requests reach the receiver bunched (24 in one window in a CI run whose starts
    // never exceeded 22).
    assert.ok(worstStarted.count <= 20 + 2 + 1, `${worstStarted.count} attempt starts within 1 s`);
    assert.equal(started.length, 60, 'one recorded attempt per delivery');
    // 60 starts at 20/s after a burst of 2 need (60 - 2) / 20 = 2.9 s; leave room for skew
    assert.ok(spanMs >= 1800, `60 deliveries at 20/s arrived within ${spanMs} ms`);
    for (const pid of r.perPid.keys()) assert.ok(pid === null || workerPids().includes(pid), `request from unknown pid ${pid}`);
  });

  it('the limited work was shared by more than one worker (the limits above held across processes)', () => {
    assert.ok(workersSeen.size >= 2, `requests came from ${workersSeen.size} worker(s): ${[...workersSeen].join(', ')}`);
    for (const c of hp.children) assert.equal(c.child.exitCode, null, `${c.role} ${c.child.pid} is still running: ${c.stderr().slice(-500)}`);
  });
});
