/**
 * For the clock and frozen-worker fault tests (test/e2e-pg/fault-*): an HTTPS receiver on loopback
 * that holds every request for a while before it answers, and counts what matters — requests per
 * queue_id, attempts of one queue_id in flight at the same moment (overlaps), and which worker
 * process sent each request (Linux /proc socket tables, see harepost-processes.ts) — plus
 * libfaketime, to give one child process a clock of its own.
 */
import { existsSync, readdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import type { TestPki } from './ca.js';
import { type HarepostProcesses, listenHttps, socketOwners } from './harepost-processes.js';

export interface HeldHit {
  id: string;
  attempt: number;
  /** The sending process, once a /proc look has seen its connection (null: not yet, or gone). */
  pid: number | null;
  remotePort: number;
  /** performance.now() when its headers arrived, and when its response finished or its connection went away. */
  arrivedAt: number;
  doneAt: number | null;
}

export interface HeldReceiver {
  port: number;
  hits: HeldHit[];
  byId: Map<string, HeldHit[]>;
  /** Attributes the hits not attributed yet to one of `pids` (reads /proc). */
  attribute(pids: readonly number[]): void;
  /** Requests whose response has not begun (or the connection still open). */
  inFlight(): HeldHit[];
  /** One line per queue_id that had a request arrive while an earlier one of it was still in flight. */
  overlaps(): string[];
  /** Requests beyond the first per queue_id. */
  duplicates(): number;
  close(): Promise<void>;
}

/**
 * `answer(attempt)` gives the status and how long to hold the request first (attempt: the
 * X-Harepost-Attempt header).
 */
export async function startHeldReceiver(pki: TestPki, answer: (attempt: number) => { status: number; holdMs: number }): Promise<HeldReceiver> {
  const hits: HeldHit[] = [];
  const byId = new Map<string, HeldHit[]>();
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const attempt = Number(req.headers['x-harepost-attempt'] ?? 0);
    const hit: HeldHit = {
      id: String(req.headers['x-harepost-queue-id'] ?? ''),
      attempt,
      pid: null,
      remotePort: req.socket.remotePort ?? 0,
      arrivedAt: performance.now(),
      doneAt: null,
    };
    hits.push(hit);
    const list = byId.get(hit.id) ?? [];
    list.push(hit);
    byId.set(hit.id, list);
    const done = () => (hit.doneAt ??= performance.now());
    res.on('finish', done);
    res.on('close', done);
    req.on('error', () => undefined);
    req.resume();
    req.on('end', () => {
      const { status, holdMs } = answer(attempt);
      setTimeout(() => {
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'text/plain', 'content-length': '2' });
        res.end('ok');
      }, holdMs);
    });
  };
  const server = await listenHttps(pki, handler, (_tls: Socket) => undefined);
  return {
    port: server.port,
    hits,
    byId,
    attribute(pids) {
      const owners = socketOwners(pids, server.port);
      for (const h of hits) if (h.pid === null) h.pid = owners.get(h.remotePort) ?? null;
    },
    inFlight: () => hits.filter((h) => h.doneAt === null),
    overlaps() {
      const out: string[] = [];
      for (const [id, list] of byId) {
        const sorted = [...list].sort((a, b) => a.arrivedAt - b.arrivedAt);
        let latestDone = sorted[0]!.doneAt;
        for (let k = 1; k < sorted.length; k++) {
          const cur = sorted[k]!;
          if (latestDone === null || cur.arrivedAt < latestDone) {
            out.push(`${id}: attempt ${cur.attempt} (pid ${cur.pid}) arrived while an earlier one was still in flight`);
          }
          if (latestDone !== null && (cur.doneAt === null || cur.doneAt > latestDone)) latestDone = cur.doneAt;
        }
      }
      return out;
    },
    duplicates: () => hits.length - byId.size,
    close: () => server.close(),
  };
}

/** Queues `n` sends through the api process to the receiver; returns their queue_ids (asserting 202s). */
export async function sendMany(hp: HarepostProcesses, port: number, n: number, delivery: Record<string, number>): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await hp.api('POST', '/v1/send', { target: `https://hooks.example.test:${port}/fault/${i}`, body: { n: i }, delivery });
    if (r.status !== 202) throw new Error(`send ${i} answered ${r.status}: ${JSON.stringify(r.body)}`);
    ids.push(r.body.queue_id as string);
  }
  return ids;
}

/** Adds and verifies example.test for the run's account (through the api process and the test DNS). */
export async function verifyExampleTest(hp: HarepostProcesses): Promise<void> {
  const added = await hp.api('POST', '/v1/domains', { domain: 'example.test' });
  if (added.status !== 201) throw new Error(`adding the domain answered ${added.status}: ${JSON.stringify(added.body)}`);
  hp.dns.setTxt(added.body.record.name, [added.body.record.value]);
  const verified = await hp.api('POST', '/v1/domains/verify', { domain: 'example.test' });
  if (verified.body.status !== 'verified') throw new Error(`domain not verified: ${JSON.stringify(verified.body)}`);
}

/** Debian's libfaketime (package faketime), or null when it is not installed. */
export function libfaketime(): string | null {
  for (const root of ['/usr/lib', '/usr/lib64']) {
    if (!existsSync(root)) continue;
    for (const dir of readdirSync(root)) {
      const path = `${root}/${dir}/faketime/libfaketime.so.1`;
      if (existsSync(path)) return path;
    }
    if (existsSync(`${root}/faketime/libfaketime.so.1`)) return `${root}/faketime/libfaketime.so.1`;
  }
  return null;
}

/**
 * The environment that puts a child's wall clock `offset` (libfaketime syntax: '+40s'), or the
 * offset written in `file` (re-read every second), away from the real one. Its monotonic clock
 * is left alone (timers and libuv keep working), as a wall-clock jump on a real host does.
 */
export function fakeClockEnv(lib: string, o: { offset: string } | { file: string }): Record<string, string> {
  return {
    LD_PRELOAD: lib,
    DONT_FAKE_MONOTONIC: '1',
    ...('offset' in o ? { FAKETIME: o.offset } : { FAKETIME_TIMESTAMP_FILE: o.file, FAKETIME_CACHE_DURATION: '1' }),
  };
}

/** How far ahead of this process's clock a serve process's wall clock is, in ms (its HTTP Date header: ±1 s). */
export async function clockAheadMs(port: number): Promise<number> {
  const res = await request(`http://127.0.0.1:${port}/healthz`);
  await res.body.dump();
  const date = Date.parse(String(res.headers.date));
  return date - Date.now();
}

/** Fails loudly under CI when libfaketime is missing; elsewhere a skip reason. */
export function faketimeSkipReason(): string | false {
  if (libfaketime() !== null) return false;
  const msg = "Debian's faketime (libfaketime) is not installed: apt-get install -y faketime (.ci/run installs it)";
  if (process.env.CI === 'true') throw new Error(msg);
  console.warn(`SKIPPING the clock fault tests: ${msg}`);
  return msg;
}
