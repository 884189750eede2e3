/**
 * The benchmark's receiver, run as its own process so it does not share an event loop with the
 * driver: an HTTPS (or HTTP) server that answers 200 at once and remembers when each
 * X-Harepost-Queue-Id arrived. Driven over IPC: {cmd:'arrivals'} → the list, {cmd:'reset'}.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';

const arrivals: Array<[string, number]> = [];
let count = 0;

function handle(req: IncomingMessage, res: ServerResponse) {
  req.on('data', () => undefined);
  req.on('end', () => {
    count++;
    const id = req.headers['x-harepost-queue-id'];
    if (typeof id === 'string') arrivals.push([id, Date.now()]);
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
    res.end('ok');
  });
}

const server =
  process.env.BENCH_TLS_CERT && process.env.BENCH_TLS_KEY
    ? createHttps({ cert: readFileSync(process.env.BENCH_TLS_CERT), key: readFileSync(process.env.BENCH_TLS_KEY) }, handle)
    : createHttp(handle);
server.keepAliveTimeout = 60_000;
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
});
process.on('disconnect', () => process.exit(0));
