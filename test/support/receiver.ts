// A real HTTP(S) webhook receiver for tests: records every request, replies as told.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { assertLoopback, hostPort } from './loopback.js';

export interface RecordedRequest {
  method: string;
  /** Request target as sent (path + query string). */
  path: string;
  /** Lower-cased names; repeated headers joined with ", " (built from rawHeaders, nothing dropped). */
  headers: Record<string, string>;
  /** Alternating name/value pairs exactly as received. */
  rawHeaders: string[];
  body: Buffer;
  /** Date.now() when the body had been fully read. */
  receivedAt: number;
  remoteAddress: string;
}

export type Reply =
  | { status?: number; headers?: Record<string, string>; body?: string | Buffer; delayMs?: number }
  | { hang: true }
  | { destroy: true };

export interface ReceiverOptions {
  tls?: { certPem: string; keyPem: string };
  /** Loopback IP literal; default 127.0.0.1. */
  host?: string;
  /** Default 0 (OS picks). */
  port?: number;
}

export interface Receiver {
  readonly port: number;
  readonly host: string;
  /** `http(s)://host:port/path`; `hostname` replaces the host part (e.g. 'hooks.example.test'). */
  url(path?: string, hostname?: string): string;
  /** Live array (same instance across reset()). */
  readonly requests: RecordedRequest[];
  /** TCP connections accepted since start / last reset(). */
  readonly connections: number;
  respond(fn: (req: RecordedRequest, index: number) => Reply | Promise<Reply>): void;
  respondWithSequence(replies: Reply[]): void;
  /** Resolves with the first n recorded requests once at least n have arrived. */
  waitForRequests(n: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** Clears requests and the connection counter and restores the default 200 'ok' responder. Open sockets are left alone. */
  reset(): void;
  close(): Promise<void>;
}

type Responder = (req: RecordedRequest, index: number) => Reply | Promise<Reply>;
const defaultResponder: Responder = () => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok' });

function joinHeaders(raw: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    out[name] = name in out ? `${out[name]}, ${value}` : value;
  }
  return out;
}

function describe(r: RecordedRequest, i: number, t0: number): string {
  const preview = r.body.toString('utf8', 0, Math.min(r.body.length, 120)).replace(/\s+/g, ' ');
  const more = r.body.length > 120 ? '…' : '';
  return `  #${i} ${r.method} ${r.path} host=${r.headers['host'] ?? '-'} +${r.receivedAt - t0}ms body(${r.body.length}B)=${JSON.stringify(preview + more)}`;
}

function resetSocket(socket: Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

export async function startReceiver(opts: ReceiverOptions = {}): Promise<Receiver> {
  const host = assertLoopback(opts.host ?? '127.0.0.1', 'startReceiver');
  const scheme = opts.tls ? 'https' : 'http';
  const startedAt = Date.now();

  const requests: RecordedRequest[] = [];
  let connections = 0;
  let responder: Responder = defaultResponder;
  let closed = false;
  const sockets = new Set<Socket>(); // raw TCP sockets
  const rawByPeer = new Map<string, Socket>(); // "addr|port" -> raw TCP socket (to RST under TLS)
  const waiters = new Set<() => void>();

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => { /* client went away mid-body: not recorded */ });
    req.on('end', () => {
      const rec: RecordedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: joinHeaders(req.rawHeaders),
        rawHeaders: [...req.rawHeaders],
        body: Buffer.concat(chunks),
        receivedAt: Date.now(),
        remoteAddress: req.socket.remoteAddress ?? '',
      };
      const index = requests.push(rec) - 1;
      for (const w of [...waiters]) w();
      void reply(req, res, rec, index);
    });
  };

  async function reply(req: IncomingMessage, res: ServerResponse, rec: RecordedRequest, index: number): Promise<void> {
    let r: Reply;
    try {
      r = await responder(rec, index);
    } catch (err) {
      r = { status: 500, body: `receiver responder threw: ${err instanceof Error ? err.stack ?? err.message : String(err)}` };
    }
    if ('hang' in r) return; // never answer; close() destroys the socket
    if ('destroy' in r) {
      const s = req.socket;
      const raw = rawByPeer.get(`${s.remoteAddress}|${s.remotePort}`);
      resetSocket(raw ?? s);
      return;
    }
    if (r.delayMs !== undefined && r.delayMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, r.delayMs));
    }
    if (res.destroyed || req.socket.destroyed) return;
    const body = r.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body);
    const headers: Record<string, string> = { 'content-length': String(body.length) };
    for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = v;
    try {
      res.writeHead(r.status ?? 200, headers);
      res.end(body);
    } catch {
      res.destroy();
    }
  }

  const server: Server = opts.tls
    ? (createHttpsServer({ cert: opts.tls.certPem, key: opts.tls.keyPem }, handler) as unknown as Server)
    : createHttpServer(handler);
  // Never let Node time out a hung test exchange on its own.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    const key = `${socket.remoteAddress}|${socket.remotePort}`;
    rawByPeer.set(key, socket);
    socket.on('error', () => { /* ECONNRESET etc. from clients are expected in tests */ });
    socket.on('close', () => {
      sockets.delete(socket);
      if (rawByPeer.get(key) === socket) rawByPeer.delete(key);
    });
  });
  server.on('tlsClientError', () => { /* e.g. client rejecting our cert: expected in tests */ });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: opts.port ?? 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('startReceiver: unexpected server address');
  const port = addr.port;

  const receiver: Receiver = {
    port,
    host,
    url(path = '/', hostname?: string): string {
      const p = path.startsWith('/') ? path : `/${path}`;
      return `${scheme}://${hostPort(hostname ?? host, port)}${p}`;
    },
    get requests() {
      return requests;
    },
    get connections() {
      return connections;
    },
    respond(fn) {
      responder = fn;
    },
    respondWithSequence(replies) {
      if (replies.length === 0) throw new Error('respondWithSequence: need at least one reply');
      const seq = [...replies];
      let n = 0;
      responder = () => seq[Math.min(n++, seq.length - 1)]!;
    },
    waitForRequests(n, timeoutMs = 10_000) {
      return new Promise<RecordedRequest[]>((resolve, reject) => {
        const check = (): boolean => {
          if (requests.length >= n) {
            resolve(requests.slice(0, n));
            return true;
          }
          return false;
        };
        if (check()) return;
        if (closed) {
          reject(new Error(`waitForRequests(${n}): receiver ${receiver.url()} is closed with ${requests.length} request(s)`));
          return;
        }
        const waiter = (): void => {
          if (check()) {
            clearTimeout(timer);
            waiters.delete(waiter);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          const lines = requests.map((r, i) => describe(r, i, startedAt));
          reject(new Error(
            `waitForRequests(${n}) on ${receiver.url()} timed out after ${timeoutMs} ms: ` +
            `${requests.length} request(s) arrived, ${connections} connection(s) accepted` +
            (lines.length ? `:\n${lines.join('\n')}` : ' (nothing arrived)'),
          ));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    reset() {
      requests.length = 0;
      connections = 0;
      responder = defaultResponder;
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        sockets.clear();
      });
    },
  };
  return receiver;
}
