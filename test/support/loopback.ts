// Guard for the harness network rule: every helper listens on / talks to loopback only.
import { isIPv4, isIPv6 } from 'node:net';

/** True for IP literals in 127.0.0.0/8 and for ::1 (also the bracketed form "[::1]"). */
export function isLoopbackIp(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIPv4(h)) return h.split('.')[0] === '127';
  if (isIPv6(h)) {
    const lower = h.toLowerCase();
    if (lower === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(lower) || lower === '0:0:0:0:0:0:0:1') return true;
    // IPv4-mapped loopback, e.g. ::ffff:127.0.0.1
    const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
    return m !== null && isIPv4(m[1]!) && m[1]!.split('.')[0] === '127';
  }
  return false;
}

/** Throws unless `host` is a loopback IP literal. Returns the host without brackets. */
export function assertLoopback(host: string, what: string): string {
  if (!isLoopbackIp(host)) {
    throw new Error(`${what}: host ${JSON.stringify(host)} is not a loopback IP literal (127.0.0.0/8 or ::1); the test harness only uses loopback`);
  }
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

/** host:port with brackets around IPv6 literals. */
export function hostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
