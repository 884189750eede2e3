import { createServer } from 'node:net';
import { assertLoopback } from './loopback.js';

/**
 * Asks the OS for a currently free TCP port on `host` (loopback only) by listening on
 * port 0 and closing again. Inherently racy: another process may grab the port before
 * the caller binds it, so prefer `port: 0` on the real server when the API allows it.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  const h = assertLoopback(host, 'freePort');
  return new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host: h, port: 0, exclusive: true }, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('freePort: unexpected server address'));
        return;
      }
      const { port } = addr;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
