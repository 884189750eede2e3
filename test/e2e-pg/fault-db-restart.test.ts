/**
 * PostgreSQL restarted under load (issue 21, item 4), without touching the server other tests
 * share: a TCP proxy between Harepost and PostgreSQL drops every connection — once right after a
 * send's COMMIT went out (its outcome unknown to the api), once at an arbitrary moment, once after
 * any COMMIT (the worker's bookkeeping too) — while an api and a worker process (children) take
 * sends with Idempotency-Keys from 16 concurrent callers that retry every 503 with their key.
 *
 * Counted: statuses (no 5xx other than 503), /readyz 503 during a cut and 200 after, every 202'd
 * queue_id delivered, exactly one delivery (queue_id) per key — a send whose commit landed but was
 * answered 503 is replayed on retry, not created twice; one whose commit did not land is created
 * by the retry — and the same two processes alive at the end (they reconnected by themselves).
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Pool, request } from 'undici';
import { freePort } from '../support/free-port.js';
import { harepostProcesses, listenHttps, type HarepostProcesses, type LoopbackHttpsServer, type ServeProcess } from '../support/harepost-processes.js';
import { postgresAvailable } from '../support/postgres.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { sleep, waitFor } from '../support/wait.js';

const KEYS = 600;
const CALLERS = 16;

const base = await postgresAvailable();

const COMMIT = Buffer.from('COMMIT\0');
const IDEMPOTENCY_INSERT = Buffer.from('INSERT INTO idempotency_keys');

/** The chunk carries a COMMIT that ends a transaction which recorded an Idempotency-Key (a send's). */
function sendCommit(chunk: Buffer, sentBefore: Buffer): boolean {
  if (!chunk.includes(COMMIT)) return false;
  const all = Buffer.concat([sentBefore, chunk]);
  const commitAt = all.lastIndexOf(COMMIT);
  const previousCommit = all.lastIndexOf(COMMIT, commitAt - 1);
  return all.lastIndexOf(IDEMPOTENCY_INSERT) > previousCommit;
}

interface Outcome {
  key: string;
  statuses: number[];
  queueId: string | null;
  replayed: boolean;
}

describe('PostgreSQL connections cut under load', { skip: base === null ? 'PostgreSQL unreachable (not CI)' : false }, () => {
  let hp: HarepostProcesses;
  let proxy: TcpProxy;
  let receiver: LoopbackHttpsServer;
  const deliveries = new Map<string, { key: string; count: number }>();

  before(async () => {
    hp = await harepostProcesses(base!, {
      tmpPrefix: 'harepost-db-restart-',
      accountName: 'Database restart',
      env: { HAREPOST_LEASE_MARGIN_MS: '1000', HAREPOST_LOG_LEVEL: 'error' },
    });
    proxy = await startTcpProxy(Number(new URL(base!).port || 5432));
    receiver = await listenHttps(
      hp.pki,
      (req: IncomingMessage, res: ServerResponse) => {
        const id = String(req.headers['x-harepost-queue-id'] ?? '');
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const key = JSON.parse(Buffer.concat(chunks).toString('utf8')).key as string;
          const seen = deliveries.get(id);
          if (seen) seen.count++;
          else deliveries.set(id, { key, count: 1 });
          res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        });
      },
      () => undefined,
    );
  });
  after(async () => {
    await proxy?.restore().catch(() => undefined);
    await hp?.close();
    await receiver?.close();
    await proxy?.close();
  });

  it('answers 503 during each cut, reconnects by itself, delivers every 202 and one delivery per key', { timeout: 180_000 }, async () => {
    const viaProxy = new URL(hp.env.HAREPOST_DATABASE_URL!);
    viaProxy.port = String(proxy.port);
    const processEnv = { HAREPOST_DATABASE_URL: viaProxy.toString() };
    const api = hp.spawnServe('api', await freePort(), processEnv);
    const worker = hp.spawnServe('worker', await freePort(), processEnv);
    await hp.allReady();
    const added = await hp.api('POST', '/v1/domains', { domain: 'example.test' });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    hp.dns.setTxt(added.body.record.name, [added.body.record.value]);
    assert.equal((await hp.api('POST', '/v1/domains/verify', { domain: 'example.test' })).body.status, 'verified');

    const pool = new Pool(`http://127.0.0.1:${api.port}`, { connections: CALLERS });
    const statusCounts = new Map<number, number>();
    const bad: string[] = [];
    const outcomes: Outcome[] = [];
    let accepted = 0;

    const sendOnce = async (key: string) => {
      const res = await pool.request({
        path: '/v1/send',
        method: 'POST',
        headers: { authorization: `Bearer ${hp.key}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({
          target: `https://hooks.example.test:${receiver.port}/db/${key}`,
          body: { key },
          idempotency_key: key, // also stored with the delivery, to count deliveries per key in the database
          delivery: { timeout_ms: 2000, base_delay_ms: 200, backoff: 'fixed', max_attempts: 25 },
        }),
      });
      const text = await res.body.text();
      statusCounts.set(res.statusCode, (statusCounts.get(res.statusCode) ?? 0) + 1);
      return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : null, text };
    };

    let next = 0;
    const caller = async () => {
      while (next < KEYS) {
        const key = `key-${next++}`;
        const o: Outcome = { key, statuses: [], queueId: null, replayed: false };
        outcomes.push(o);
        for (;;) {
          const r = await sendOnce(key);
          o.statuses.push(r.status);
          if (r.status === 202) {
            o.queueId = r.body.queue_id;
            o.replayed = r.headers['idempotent-replayed'] === 'true';
            accepted++;
            break;
          }
          if (r.status === 503) {
            if (typeof r.body?.error?.code !== 'string' || r.headers['retry-after'] === undefined) bad.push(`503 without error shape or Retry-After: ${r.text}`);
            await sleep(100);
            continue;
          }
          bad.push(`${key}: ${r.status} ${r.text}`);
          break;
        }
      }
    };

    const readyz = async (p: ServeProcess) => {
      try {
        const r = await request(`http://127.0.0.1:${p.port}/readyz`, { headersTimeout: 8000, bodyTimeout: 8000 });
        await r.body.dump();
        return r.statusCode;
      } catch {
        return 0;
      }
    };
    const readyDuringCut: number[] = [];
    const outage = async (cut: () => Promise<void>, downMs: number) => {
      await cut();
      readyDuringCut.push(await waitFor(async () => ((await readyz(api)) === 503 ? 503 : undefined), { timeoutMs: 10_000 }));
      await sleep(downMs);
      await proxy.restore();
    };
    const after = (n: number) => waitFor(() => accepted >= n, { timeoutMs: 60_000, intervalMs: 5 });

    const cuts = (async () => {
      await after(60);
      await outage(() => proxy.cutAfter(sendCommit), 1000); // a send's COMMIT sent, its answer never comes
      await after(accepted + 80);
      await outage(() => proxy.cut(), 1500); // wherever the transactions are
      await after(accepted + 80);
      await outage(() => proxy.cutAfter((chunk) => chunk.includes(COMMIT)), 500); // any COMMIT, the worker's too
      await after(accepted + 60);
      await outage(() => proxy.cutAfter(sendCommit), 300);
    })();
    await Promise.all([...Array.from({ length: CALLERS }, caller), cuts]);
    await pool.close();

    // both processes are the ones started at the beginning, and ready again on their own
    for (const p of [api, worker]) {
      assert.equal(p.child.exitCode, null, `${p.role} is still running`);
      assert.equal(p.child.signalCode, null, `${p.role} is still running`);
      assert.equal(await waitFor(async () => ((await readyz(p)) === 200 ? 200 : undefined), { timeoutMs: 15_000 }), 200);
    }
    assert.deepEqual(readyDuringCut, [503, 503, 503, 503], '/readyz answered 503 during every cut');

    const fiveHundreds = [...statusCounts].filter(([s]) => s >= 500 && s !== 503);
    assert.deepEqual(fiveHundreds, [], 'no 5xx other than 503');
    assert.deepEqual(bad, [], 'every answer was a 202 or a retryable 503');
    assert.ok((statusCounts.get(503) ?? 0) > 0, 'the cuts were seen as 503s');
    assert.equal(outcomes.length, KEYS);
    const queueIds = new Set(outcomes.map((o) => o.queueId));
    assert.equal(queueIds.size, KEYS, 'one queue_id per key');

    // every 202 is delivered, and nothing else: one delivery per key
    await waitFor(() => [...queueIds].every((id) => deliveries.has(id!)), {
      timeoutMs: 60_000,
      message: `delivered ${[...queueIds].filter((id) => deliveries.has(id!)).length} of ${KEYS}\n${hp.logs(2000)}`,
    });
    await sleep(1500); // a delivery created twice for one key would show up now
    const extra = [...deliveries].filter(([id]) => !queueIds.has(id));
    assert.deepEqual(extra, [], 'no delivery that no caller was given a 202 for (no key created twice)');
    for (const o of outcomes) assert.equal(deliveries.get(o.queueId!)!.key, o.key);
    const dbRows = await hp.db.query(`SELECT idempotency_key, COUNT(*)::int AS n FROM ${hp.schema}.deliveries GROUP BY 1 HAVING COUNT(*) > 1`);
    assert.deepEqual(dbRows.rows, [], 'no key has two deliveries in the database');

    const retried = outcomes.filter((o) => o.statuses.length > 1);
    const replayed = retried.filter((o) => o.replayed);
    const repeatAttempts = [...deliveries.values()].reduce((n, d) => n + d.count - 1, 0);
    console.log(
      `# db-restart: ${KEYS} keys, statuses ${JSON.stringify(Object.fromEntries(statusCounts))}, ` +
        `${retried.length} keys retried after a 503 (${replayed.length} of them replayed a commit that had landed), ` +
        `${deliveries.size} deliveries, ${repeatAttempts} repeated attempts`,
    );
  });
});
