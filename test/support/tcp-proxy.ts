/**
 * A TCP proxy on loopback in front of a loopback service, which a test can cut (every connection
 * dropped, new ones refused) and restore on the same port: a database outage without touching
 * the database server other tests share.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { assertLoopback } from './loopback.js';

export interface TcpProxy {
  port: number;
  /** Drops every connection and refuses new ones (the port is closed). */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  restore(): Promise<void>;
  /**
   * Cuts every connection right after forwarding the first client chunk that `when` picks, before
   * the server's answer can come back (e.g. a COMMIT: its outcome is then unknown to the client).
   * `when` sees each chunk with what the same connection sent before it (up to 64 KiB).
   * Resolves once the cut was made.
   */
  cutAfter(when: (chunk: Buffer, sentBefore: Buffer) => boolean): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  assertLoopback(targetHost, "proxy target");
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  let trigger: { when: (chunk: Buffer, sentBefore: Buffer) => boolean; done: () => void } | null = null;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = connect(targetPort, targetHost);
        sockets.add(client);
        sockets.add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream);
        upstream.pipe(client);
        let sent = Buffer.alloc(0);
        client.on('data', (chunk: Buffer) => {
          // pipe() wrote the chunk upstream already (its listener came first); cut before any answer
          if (trigger && trigger.when(chunk, sent)) {
            const t = trigger;
            trigger = null;
            setImmediate(() => void cut().then(t.done));
          }
          sent = Buffer.concat([sent, chunk]).subarray(-65536);
        });
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as { port: number }).port;
        server = s;
        resolve();
      });
    });

  await listen();
  const cut = async () => {
    const s = server;
    server = null;
    for (const sock of sockets) sock.destroy();
    sockets.clear();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  return {
    get port() {
      return port;
    },
    cut,
    restore: listen,
    cutAfter: (when) => new Promise<void>((done) => (trigger = { when, done })),
    close: cut,
  };
}
