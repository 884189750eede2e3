/**
 * The benchmark's receiver, run as its own process so it does not share an event loop with the
 * driver: an HTTPS (or HTTP) server on 127.0.0.1 that answers 200 at once and remembers when each
 * X-Harepost-Queue-Id arrived. The path picks other behaviours (used by bench/isolation.ts and
 * bench/soak.ts): `/fail…` answers 500, `/slow…` answers 200 after 2–3 s, `/wait…` answers 200
 * after 200 ms (bench/tenants.ts), `/hang…` reads the request and never answers (the attempt times
 * out). Only immediate 200s count as arrivals.
 *
 * Driven over IPC: {cmd:'arrivals'} → the list, {cmd:'count'}, {cmd:'reset'}, {cmd:'drain'} →
 * arrivals since the last drain (then forgotten) and totals, {cmd:'stats'} → totals,
 * {cmd:'cpu'} → this process's own `process.cpuUsage()` (µs since start; bench/run.ts subtracts the
 * receiver's share from the machine's busy time).
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';

const arrivals: Array<[string, number]> = [];
let count = 0;
const stats = { ok: 0, failed: 0, slow: 0, waited: 0, hangOpen: 0, hangTotal: 0, connections: 0 };

function handle(req: IncomingMessage, res: ServerResponse) {
  const path = req.url ?? '/';
  req.on('data', () => undefined);
  req.on('end', () => {
    count++;
    if (path.startsWith('/hang')) {
      stats.hangTotal++;
      stats.hangOpen++;
      req.socket.once('close', () => stats.hangOpen--);
      return; // never answered
    }
    if (path.startsWith('/fail')) {
      stats.failed++;
      res.writeHead(500, { 'content-type': 'text/plain', 'content-length': '4' });
      res.end('fail');
      return;
    }
    if (path.startsWith('/wait')) {
      const timer = setTimeout(() => {
        stats.waited++;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
        res.end('ok');
      }, 200);
      res.once('close', () => clearTimeout(timer));
      return;
    }
    if (path.startsWith('/slow')) {
      const timer = setTimeout(() => {
        stats.slow++;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
        res.end('ok');
      }, 2000 + Math.floor(Math.random() * 1000));
      res.once('close', () => clearTimeout(timer));
      return;
    }
    stats.ok++;
    const id = req.headers['x-harepost-queue-id'];
    if (typeof id === 'string') arrivals.push([id, performance.timeOrigin + performance.now()]); // wall clock, sub-ms
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
    res.end('ok');
  });
}

const server =
  process.env.BENCH_TLS_CERT && process.env.BENCH_TLS_KEY
    ? createHttps({ cert: readFileSync(process.env.BENCH_TLS_CERT), key: readFileSync(process.env.BENCH_TLS_KEY) }, handle)
    : createHttp(handle);
server.keepAliveTimeout = 60_000;
server.on('connection', () => stats.connections++);
server.listen(0, '127.0.0.1', () => {
  process.send!({ port: (server.address() as { port: number }).port });
});

process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'arrivals') process.send!({ arrivals, count });
  if (m.cmd === 'reset') {
    arrivals.length = 0;
    count = 0;
    process.send!({ reset: true });
  }
  if (m.cmd === 'count') process.send!({ count, arrivals: arrivals.length });
  if (m.cmd === 'drain') {
    process.send!({ drain: arrivals.splice(0), totals: { ...stats } });
  }
  if (m.cmd === 'stats') process.send!({ stats: { ...stats } });
  if (m.cmd === 'cpu') process.send!({ cpu: process.cpuUsage() });
});
process.on('disconnect', () => process.exit(0));
