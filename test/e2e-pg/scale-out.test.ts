/**
 * Scale-out on PostgreSQL (issue 5): one `serve --role api` process and three `serve --role worker`
 * processes on one database; 2,000 sends to a counting HTTPS receiver; one worker is `kill -9`ed
 * while sends are still flowing. Every accepted delivery is delivered (at least once), no queue_id
 * is ever attempted by two processes at the same moment (the receiver never sees a request for a
 * queue_id while an earlier request for it is still in flight), and the duplicates are reported.
 *
 * Which process sent a request is read from Linux's socket tables (/proc/net/tcp and
 * /proc/<pid>/fd): the receiver knows each connection's client port, /proc knows which child owns
 * that port. Nothing in Harepost is instrumented for this.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import type { TestPki } from '../support/ca.js';
import { freePort } from '../support/free-port.js';
import { exited, harepostProcesses, listenHttps, socketOwners, type HarepostProcesses, type ServeProcess } from '../support/harepost-processes.js';
import { postgresAvailable } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';

const TOTAL = 2000;
const SEND_CONCURRENCY = 32;
const KILL_AFTER_REQUESTS = 300;
const WORKERS = 3;

const base = await postgresAvailable();

// ---------------------------------------------------------------------------------------------
// The counting receiver

interface Conn {
  /** The client's (worker's) port on 127.0.0.1. */
  remotePort: number;
  openedAt: number;
  /** Process that owns the client end, once a /proc snapshot has seen it. */
  pid: number | null;
}

interface Hit {
  id: string;
  attempt: string;
  conn: Conn;
  /** performance.now() when the request's headers arrived. */
  arrivedAt: number;
  /** performance.now() when the response was finished or the connection went away; null while in flight. */
  doneAt: number | null;
  /** performance.now() when the receiver began to answer; null before (the random delay). */
  respondedAt: number | null;
}

interface CountingReceiver {
  port: number;
  hits: Hit[];
  byId: Map<string, Hit[]>;
  conns: Conn[];
  /** Resolve which child owns each connection seen so far (reads /proc). */
  attribute(pids: readonly number[]): void;
  close(): Promise<void>;
}

async function startCountingReceiver(pki: TestPki): Promise<CountingReceiver> {
  const hits: Hit[] = [];
  const byId = new Map<string, Hit[]>();
  const conns: Conn[] = [];
  const connOf = new WeakMap<Socket, Conn>();

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const arrivedAt = performance.now();
    const id = String(req.headers['x-harepost-queue-id'] ?? '');
    const conn = connOf.get(req.socket) ?? { remotePort: req.socket.remotePort ?? 0, openedAt: arrivedAt, pid: null };
    const hit: Hit = { id, attempt: String(req.headers['x-harepost-attempt'] ?? ''), conn, arrivedAt, doneAt: null, respondedAt: null };
    hits.push(hit);
    let list = byId.get(id);
    if (!list) byId.set(id, (list = []));
    list.push(hit);
    res.on('finish', () => {
      hit.doneAt ??= performance.now();
    });
    res.on('close', () => {
      hit.doneAt ??= performance.now();
    });
    req.on('error', () => undefined);
    req.resume();
    req.on('end', () => {
      setTimeout(() => {
        if (res.destroyed) return;
        hit.respondedAt = performance.now();
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
        res.end('ok');
      }, Math.floor(Math.random() * 21)); // 0–20 ms, so attempts overlap in time
    });
  };

  const server = await listenHttps(pki, handler, (tls) => {
    const conn: Conn = { remotePort: tls.remotePort ?? 0, openedAt: performance.now(), pid: null };
    conns.push(conn);
    connOf.set(tls, conn);
  });
  const port = server.port;

  return {
    port,
    hits,
    byId,
    conns,
    attribute(pids) {
      const owners = socketOwners(pids, port);
      for (const c of conns) if (c.pid === null) c.pid = owners.get(c.remotePort) ?? null;
    },
    close: () => server.close(),
  };
}

// ---------------------------------------------------------------------------------------------

describe('scale-out on PostgreSQL: 1 api + 3 worker processes, one kill -9', { skip: base === null ? 'PostgreSQL unreachable (not CI)' : false }, () => {
  let hp: HarepostProcesses;
  let receiver: CountingReceiver;
  let sampler: NodeJS.Timeout | undefined;

  before(async () => {
    hp = await harepostProcesses(base!, {
      tmpPrefix: 'harepost-scale-',
      accountName: 'Scale out',
      env: { HAREPOST_LEASE_MARGIN_MS: '1000' },
    });
    receiver = await startCountingReceiver(hp.pki);
  });

  after(async () => {
    clearInterval(sampler);
    await hp?.close();
    await receiver?.close();
  });

  it('delivers every accepted send at least once, never two attempts of one queue_id at the same moment', { timeout: 120_000 }, async () => {
    assert.ok(existsSync('/proc/net/tcp'), 'this test tells which process sent a request through Linux /proc');
    const { db, dns, schema, api } = hp;
    const t0 = performance.now();
    const apiProc = hp.spawnServe('api', await freePort());
    const workers: ServeProcess[] = [];
    for (let i = 0; i < WORKERS; i++) workers.push(hp.spawnServe('worker', await freePort()));
    await hp.allReady();
    hp.poolApi(SEND_CONCURRENCY);
    const workerPids = workers.map((w) => w.child.pid!);
    const tReady = performance.now();

    const added = await api('POST', '/v1/domains', { domain: 'example.test' });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    dns.setTxt(added.body.record.name, [added.body.record.value]);
    const verified = await api('POST', '/v1/domains/verify', { domain: 'example.test' });
    assert.equal(verified.body.status, 'verified', JSON.stringify(verified.body));

    // Which child owns each receiver connection: sample /proc as connections appear.
    sampler = setInterval(() => receiver.attribute(workerPids), 100);
    sampler.unref();

    // The victim is a worker with attempts in flight that the receiver has not begun to answer:
    // it cannot have their results, so each of them must be attempted again after its lease runs out.
    let victim = null as (typeof workers)[number] | null;
    let killedAt = null as number | null;
    let sentAtKill = -1;
    let hitsAtKill = -1;
    let cutByKill: Hit[] = [];
    const tryKill = (): boolean => {
      if (receiver.hits.length < KILL_AFTER_REQUESTS) return false;
      receiver.attribute(workerPids); // now: the victim's connections vanish with it
      const pending = receiver.hits.filter((h) => h.doneAt === null && h.respondedAt === null);
      const byPid = new Map<number, Hit[]>();
      for (const h of pending) if (h.conn.pid !== null) byPid.set(h.conn.pid, [...(byPid.get(h.conn.pid) ?? []), h]);
      const [pid, held] = [...byPid].sort((a, b) => b[1].length - a[1].length)[0] ?? [];
      if (pid === undefined || !held) return false;
      victim = workers.find((w) => w.child.pid === pid)!;
      cutByKill = held;
      hitsAtKill = receiver.hits.length;
      sentAtKill = next;
      killedAt = performance.now();
      victim.child.kill('SIGKILL');
      return true;
    };

    const accepted: string[] = [];
    const refused: Array<{ i: number; status: number; body: unknown }> = [];
    let next = 0;
    const sender = async () => {
      while (next < TOTAL) {
        const i = next++;
        const r = await api('POST', '/v1/send', {
          target: `https://hooks.example.test:${receiver.port}/scale/${i}`,
          body: { n: i },
          delivery: { timeout_ms: 2000 },
        });
        if (r.status === 202 && typeof r.body?.queue_id === 'string') accepted.push(r.body.queue_id);
        else refused.push({ i, status: r.status, body: r.body });
        if (killedAt === null) tryKill();
      }
    };
    await Promise.all(Array.from({ length: SEND_CONCURRENCY }, sender));
    const tSent = performance.now();
    const killedWhileSending = killedAt !== null;
    if (killedAt === null) {
      await waitFor(() => tryKill(), { timeoutMs: 30_000, intervalMs: 1, message: 'no worker had an attempt in flight to be killed' });
    }
    if (victim === null || killedAt === null) throw new Error('no worker was killed');
    const victimPid = victim.child.pid!;
    const victimChild = victim.child;
    assert.equal((await exited(victimChild, 5000))?.signal, 'SIGKILL', 'the victim died of SIGKILL');

    // Every accepted queue_id reaches the receiver.
    const acceptedSet = new Set(accepted);
    await waitFor(
      () => {
        for (const id of acceptedSet) if (!receiver.byId.has(id)) return false;
        return true;
      },
      { timeoutMs: 60_000, intervalMs: 100, message: 'receiver did not see every accepted queue_id' },
    ).catch((err: Error) => {
      const seen = [...acceptedSet].filter((id) => receiver.byId.has(id)).length;
      throw new Error(`${err.message} (saw ${seen} of ${acceptedSet.size})\nworker logs:\n${hp.logs(2000)}`);
    });
    const tReceived = performance.now();

    // ...and the store records them all delivered (results are written just after the response).
    await waitFor(
      async () => {
        const r = await db.query(`SELECT count(*)::int AS n FROM ${schema}.deliveries WHERE status = 'delivered'`);
        return r.rows[0].n >= acceptedSet.size;
      },
      { timeoutMs: 20_000, intervalMs: 100, message: 'deliveries not all recorded as delivered' },
    );
    // Once recorded delivered nothing is due any more; a moment for responses still being closed.
    await new Promise((r) => setTimeout(r, 500));
    receiver.attribute(workerPids);
    clearInterval(sampler);
    const tDone = performance.now();

    // ---- figures
    const requests = receiver.hits.filter((h) => acceptedSet.has(h.id));
    const strangers = receiver.hits.filter((h) => !acceptedSet.has(h.id));
    const distinctSeen = [...receiver.byId.keys()].filter((id) => acceptedSet.has(id)).length;
    const duplicates = requests.length - distinctSeen;
    let duplicatesAfterKill = 0;
    const overlaps: string[] = [];
    const stillInFlight: string[] = [];
    for (const [id, list] of receiver.byId) {
      const sorted = [...list].sort((a, b) => a.arrivedAt - b.arrivedAt);
      // the earlier request that finished last: each request must arrive after every earlier one finished
      let latest = sorted[0]!;
      for (let k = 1; k < sorted.length; k++) {
        const cur = sorted[k]!;
        if (cur.arrivedAt >= killedAt) duplicatesAfterKill++;
        if (latest.doneAt === null || cur.arrivedAt < latest.doneAt) {
          overlaps.push(
            `${id}: request #${k + 1} (attempt header ${cur.attempt}, pid ${cur.conn.pid}) arrived at +${(cur.arrivedAt - t0).toFixed(1)} ms ` +
              `while an earlier one (attempt header ${latest.attempt}, pid ${latest.conn.pid}, arrived +${(latest.arrivedAt - t0).toFixed(1)} ms) ` +
              (latest.doneAt === null ? 'never finished' : `finished only at +${(latest.doneAt - t0).toFixed(1)} ms`),
          );
        }
        if (latest.doneAt !== null && (cur.doneAt === null || cur.doneAt > latest.doneAt)) latest = cur;
      }
      for (const h of list) if (h.doneAt === null) stillInFlight.push(id);
    }
    const perPid = new Map<number | null, number>();
    for (const h of requests) perPid.set(h.conn.pid, (perPid.get(h.conn.pid) ?? 0) + 1);
    // each attempt the kill cut short is attempted again, by a survivor, after the kill
    const retried = cutByKill.map((h) => {
      const later = (receiver.byId.get(h.id) ?? []).filter((x) => x.arrivedAt > killedAt! && x.conn.pid !== victimPid);
      return { id: h.id, after: later.length ? Math.min(...later.map((x) => x.arrivedAt)) - killedAt! : null };
    });
    const retryDelays = retried.flatMap((r) => (r.after === null ? [] : [r.after]));
    const [{ n: attemptRows }] = (await db.query(`SELECT count(*)::int AS n FROM ${schema}.attempts`)).rows;
    // what the attempts that did not deliver came to (for the summary below)
    const undelivered = (
      await db.query(
        `SELECT outcome, COALESCE(http_status::text, left(error, 80)) AS what, count(*)::int AS n FROM ${schema}.attempts
         WHERE outcome <> 'delivered' GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 8`,
      )
    ).rows as Array<{ outcome: string; what: string; n: number }>;
    const [{ n: deliveredAttemptRows }] = (
      await db.query(`SELECT count(*)::int AS n FROM ${schema}.attempts WHERE outcome = 'delivered'`)
    ).rows;

    console.log(
      [
        `scale-out: ${TOTAL} sends, ${accepted.length} accepted (202), ${refused.length} refused`,
        `  receiver: ${requests.length} requests for ${distinctSeen} distinct queue_ids` +
          (strangers.length ? `, ${strangers.length} requests for queue_ids never accepted` : ''),
        `  duplicates (requests - distinct ids): ${duplicates}, of which after the kill: ${duplicatesAfterKill}`,
        `  overlapping duplicates: ${overlaps.length}`,
        `  kill -9 of worker pid ${victimPid} ${killedWhileSending ? 'while sends were flowing' : 'AFTER sends had ended'}: ` +
          `after ${sentAtKill} sends started, ${hitsAtKill} requests received, ${cutByKill.length} of its attempts in flight unanswered; ` +
          `those were attempted again ${retryDelays.length ? `${(Math.min(...retryDelays) / 1000).toFixed(2)}–${(Math.max(...retryDelays) / 1000).toFixed(2)} s after the kill` : 'never'}`,
        `  requests per worker pid: ${[...perPid].map(([pid, n]) => `${pid === victimPid ? `${pid} (killed)` : pid ?? 'unattributed'}=${n}`).join(', ')}`,
        `  store: ${attemptRows} attempt rows, ${deliveredAttemptRows} delivered; the others: ${undelivered.map((u) => `${u.n} × ${u.outcome} (${u.what})`).join(', ') || 'none'}`,
        `  timings: processes ready ${((tReady - t0) / 1000).toFixed(1)} s; sends ${((tSent - tReady) / 1000).toFixed(1)} s; ` +
          `all received +${((tReceived - tReady) / 1000).toFixed(1)} s; total ${((tDone - t0) / 1000).toFixed(1)} s`,
      ].join('\n'),
    );

    // ---- assertions
    assert.deepEqual(refused.slice(0, 5), [], `every send is accepted (${refused.length} were not)`);
    assert.equal(accepted.length, TOTAL);
    assert.equal(acceptedSet.size, TOTAL, 'queue_ids are unique');
    assert.ok(killedWhileSending, `the worker was killed while sends were still flowing (receiver had ${hitsAtKill} requests when all sends were done)`);
    assert.ok(hitsAtKill >= KILL_AFTER_REQUESTS && hitsAtKill < TOTAL, 'the kill came mid-run');
    assert.ok(cutByKill.length >= 1, 'the kill cut short at least one attempt in flight');
    assert.deepEqual(retried.filter((r) => r.after === null).map((r) => r.id), [], 'every attempt cut short by the kill was attempted again by a survivor');
    assert.ok(duplicatesAfterKill >= cutByKill.length, `duplicates after the kill (${duplicatesAfterKill}) ≥ attempts it cut short (${cutByKill.length})`);
    assert.deepEqual(strangers.map((h) => h.id).slice(0, 5), [], 'the receiver only saw accepted queue_ids');
    for (const id of acceptedSet) assert.ok(receiver.byId.has(id), `${id} delivered at least once`);
    assert.deepEqual(overlaps.slice(0, 10), [], `${overlaps.length} queue_ids had two requests in flight at the same moment`);
    assert.deepEqual(stillInFlight.slice(0, 5), [], 'no request is left without a response or a closed connection');

    // The survivors shared the work and outlived the run.
    for (const w of workers) {
      if (w === victim) continue;
      assert.equal(w.child.exitCode, null, `worker ${w.child.pid} is still running: ${w.stderr()}`);
      const n = perPid.get(w.child.pid!) ?? 0;
      assert.ok(n >= TOTAL * 0.05, `surviving worker ${w.child.pid} attempted a real share (${n} of ${requests.length} requests)`);
    }
    assert.equal(apiProc.child.exitCode, null, 'the api process is still running');
    assert.ok(
      (perPid.get(null) ?? 0) <= requests.length * 0.02,
      `requests attributed to a worker process (${perPid.get(null) ?? 0} unattributed)`,
    );
    for (const pid of perPid.keys()) assert.ok(pid === null || workerPids.includes(pid), `request sent by unknown pid ${pid}`);

    // The store agrees: attempts recorded, one delivered attempt per delivery, nothing left leased.
    assert.ok(attemptRows >= TOTAL, `attempts recorded (${attemptRows}) ≥ ${TOTAL}`);
    assert.equal(deliveredAttemptRows, TOTAL, 'exactly one delivered attempt recorded per delivery');
    // An attempt that timed out or failed before an answer may never have reached the receiver (on
    // a loaded machine a TLS handshake with this test's receiver can take longer than timeout_ms);
    // every other recorded attempt was answered, so it is a request the receiver saw.
    const [{ n: unanswered }] = (
      await db.query(`SELECT count(*)::int AS n FROM ${schema}.attempts WHERE outcome IN ('timeout', 'network_error')`)
    ).rows;
    assert.ok(
      attemptRows - unanswered <= requests.length,
      `every answered attempt recorded was a request the receiver saw (${attemptRows} − ${unanswered} unanswered ≤ ${requests.length})`,
    );
    const [{ n: leftover }] = (
      await db.query(`SELECT count(*)::int AS n FROM ${schema}.deliveries WHERE lease_token IS NOT NULL OR run_at IS NOT NULL`)
    ).rows;
    assert.equal(leftover, 0, 'no delivery is still leased or due');

    // The API's view (through the api process): every accepted delivery is listed as delivered, once.
    const listed: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < TOTAL / 100 + 5; page++) {
      const r = await api('GET', `/v1/deliveries?status=delivered&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      for (const d of r.body.data) {
        assert.equal(d.status, 'delivered');
        listed.push(d.queue_id);
      }
      cursor = r.body.next_cursor;
      if (!cursor) break;
    }
    assert.equal(cursor, null, 'paging ended');
    assert.equal(listed.length, TOTAL, 'the API lists every delivery as delivered');
    assert.deepEqual([...listed].sort(), [...acceptedSet].sort());
    const queued = await api('GET', '/v1/deliveries?status=queued&limit=100');
    assert.deepEqual(queued.body.data, [], 'nothing left queued');
  });
});
