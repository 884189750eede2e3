/**
 * Hash routing: `#/deliveries/hr_…?status=dead_letter`. No server fallback is needed.
 */
import { useEffect, useState } from 'preact/hooks';

export interface Location {
  /** Path segments, decoded: '#/destinations/dest_1' → ['destinations', 'dest_1']. */
  segments: string[];
  query: URLSearchParams;
  /** The whole hash without '#', e.g. '/deliveries?status=queued'. */
  raw: string;
}

export function parseHash(hash: string): Location {
  let raw = hash.replace(/^#/, '');
  if (!raw.startsWith('/')) raw = `/${raw}`;
  const q = raw.indexOf('?');
  const path = q === -1 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : raw.slice(q + 1));
  const segments = path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  return { segments, query, raw };
}

/** Builds '#/a/b?x=1' from segments and optional query parameters (empty values left out). */
export function href(path: string, params: Record<string, string | undefined | null> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return `#${path}${s ? `?${s}` : ''}`;
}

export const seg = (value: string) => encodeURIComponent(value);

export function navigate(to: string, replace = false): void {
  const target = to.startsWith('#') ? to : `#${to}`;
  if (replace) {
    history.replaceState(null, '', target);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    location.hash = target;
  }
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onChange = () => {
      const next = parseHash(location.hash);
      setLoc((prev) => (prev.raw === next.raw ? prev : next));
    };
    window.addEventListener('hashchange', onChange);
    onChange(); // the hash may have changed before this effect ran
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return loc;
}
