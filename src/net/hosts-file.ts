/**
 * The hosts file (/etc/hosts) as the resolver consults it before DNS, the way the system's
 * resolver does ("files" before "dns"): a name listed there resolves to its listed addresses only.
 *
 * Read with synchronous calls on the event loop (a small, cached file), never through libuv's
 * thread pool; read once, then again when its size, mtime or inode change (checked at most once
 * per `recheckMs`).
 */
import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';

export interface HostsAddress {
  address: string;
  family: 4 | 6;
}

export interface HostsTable {
  /** The addresses listed for `name` (lower case, no trailing dot), IPv4 first; undefined when it is not listed. */
  lookup(name: string): HostsAddress[] | undefined;
}

const DEFAULT_RECHECK_MS = 5000;

function familyOf(address: string): 0 | 4 | 6 {
  const i = address.indexOf('%');
  const bare = i === -1 ? address : address.slice(0, i);
  return net.isIP(bare) as 0 | 4 | 6;
}

/** Parses hosts-file text: `address name [alias…]` per line, `#` starts a comment. Bad lines are skipped. */
export function parseHostsFile(text: string): Map<string, HostsAddress[]> {
  const byName = new Map<string, HostsAddress[]>();
  for (const raw of text.split(/\r?\n/)) {
    const hash = raw.indexOf('#');
    const fields = (hash === -1 ? raw : raw.slice(0, hash)).trim().split(/\s+/);
    const [address, ...names] = fields;
    if (address === undefined || names.length === 0) continue;
    const family = familyOf(address);
    if (family === 0) continue;
    for (const n of names) {
      const name = n.toLowerCase().replace(/\.+$/, '');
      if (name === '') continue;
      const list = byName.get(name) ?? [];
      if (!list.some((a) => a.address === address)) list.push({ address, family });
      byName.set(name, list);
    }
  }
  for (const [name, list] of byName) {
    byName.set(name, [...list.filter((a) => a.family === 4), ...list.filter((a) => a.family === 6)]);
  }
  return byName;
}

/** A hosts table backed by the file at `path` (a missing or unreadable file lists nothing). */
export function hostsFileTable(path: string, opts: { recheckMs?: number } = {}): HostsTable {
  const recheckMs = opts.recheckMs ?? DEFAULT_RECHECK_MS;
  let table = new Map<string, HostsAddress[]>();
  let version = '';
  let checkedAt = -Infinity;

  function refresh(): void {
    const now = Date.now();
    if (now - checkedAt < recheckMs) return;
    checkedAt = now;
    let seen: string;
    try {
      const st = statSync(path);
      seen = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      seen = 'missing';
    }
    if (seen === version) return;
    version = seen;
    try {
      table = seen === 'missing' ? new Map() : parseHostsFile(readFileSync(path, 'utf8'));
    } catch {
      table = new Map();
    }
  }

  return {
    lookup(name) {
      refresh();
      return table.get(name);
    },
  };
}
