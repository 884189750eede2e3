/**
 * Every setting Harepost reads, its environment name, default and validation, in one place.
 * CLI flags mirror the environment: `--port 9000` overrides `HAREPOST_PORT`.
 *
 * One file on purpose, though over 400 lines: it is one table of settings (SETTINGS) and the
 * `Config` it fills, so every name, default and check is found in one place and the README's
 * configuration table has one file to agree with. Splitting it would scatter that table.
 */
import { NAMED_SCHEMES, type NamedScheme } from './core/signature-scheme.js';

export type Role = 'api' | 'worker' | 'all';

export interface Config {
  host: string;
  port: number;
  databaseUrl: string;
  role: Role;
  /** CIDRs exempted from the address guard (HAREPOST_ALLOW_PRIVATE_NETWORKS). */
  allowPrivateNetworks: string;
  allowHttpTargets: boolean;
  /** `ip[:port]` list used for every lookup (targets and TXT); empty → the system resolver. */
  dnsServers: string;
  /** Delivery attempts (DNS, TLS, HTTP) on a worker thread of their own, off the API's event loop. */
  attemptThread: boolean;
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  /**
   * What an account may hold unless the operator set its own limits (HAREPOST_MAX_DESTINATIONS,
   * HAREPOST_MAX_KEYS, HAREPOST_MAX_DOMAINS, HAREPOST_MAX_PENDING_DELIVERIES; see core/limits).
   */
  maxDestinations: number;
  maxKeys: number;
  maxDomains: number;
  maxPendingDeliveries: number;
  maxBodyBytes: number;
  adminToken: string | null;
  logLevel: string;
  /** Concurrent attempts across all targets, and per target origin. */
  maxInFlight: number;
  maxInFlightPerOrigin: number;
  /** Concurrent attempts of one account (all its targets): nobody holds every slot. */
  maxInFlightPerAccount: number;
  /** A delivery held (its target unavailable) this long past its scheduled attempt is dead-lettered. */
  holdMaxMs: number;
  /** Extra time past `timeout_ms` before a claimed delivery's lease runs out. */
  leaseMarginMs: number;
  /** Longest SIGTERM waits for in-flight attempts before it gives their leases back. */
  shutdownGraceMs: number;
  /** When set, GET /metrics requires `Authorization: Bearer <token>` (HAREPOST_METRICS_TOKEN). */
  metricsToken: string | null;
  /** How long the delivery-status gauges reuse one count from the store, so scrapes never hammer it. */
  metricsCacheMs: number;
  /** Consecutive failed attempts that hold an origin (circuit breaker), and its first probe delay. */
  breakerFailures: number;
  breakerProbeMs: number;
  /** Final deliveries and events older than this are deleted. */
  retentionDays: number;
  retentionIntervalMs: number;
  /** How often workers check whether the store needs a VACUUM (PostgreSQL); 0 turns it off. */
  vacuumIntervalMs: number;
  /**
   * Load shedding (api/overload.ts): past any of these bounds the API answers 503 overloaded;
   * 0 turns that bound off. Event-loop delay (ms), sends waiting for their commit, callers
   * waiting for a database connection.
   */
  maxEventLoopDelayMs: number;
  maxCommitQueue: number;
  maxPoolWaiting: number;
  /**
   * Where people reach this Harepost (HAREPOST_PUBLIC_URL, e.g. https://hooks.example.com), for
   * the links it prints (dashboard login links); null → http://HAREPOST_HOST:HAREPOST_PORT.
   */
  publicUrl: string | null;
  /**
   * The signature scheme of destinations created through /v1/destinations without one
   * (HAREPOST_DEFAULT_SIGNATURE); /v1/webhooks always defaults to posthawk.
   */
  defaultSignature: NamedScheme;
  /** Origins allowed to show the dashboard in an iframe (HAREPOST_PORTAL_FRAME_ANCESTORS); empty → nowhere. */
  portalFrameAncestors: readonly string[];
  /** The dashboard's product name: page titles and the top bar (HAREPOST_PORTAL_TITLE). */
  portalTitle: string;
  /** The dashboard's accent colour as #rrggbb (HAREPOST_PORTAL_ACCENT); null → Harepost's own. */
  portalAccent: string | null;
}

interface Setting<K extends keyof Config> {
  key: K;
  env: string;
  flag: string;
  parse: (raw: string, name: string) => Config[K];
  fallback: Config[K];
}

export class ConfigError extends Error {}

function int(min: number, max: number) {
  return (raw: string, name: string): number => {
    const n = Number(raw.trim());
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new ConfigError(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
    }
    return n;
  };
}

/** 0 (off), or a whole number from min to max. */
function intOrOff(min: number, max: number) {
  const within = int(min, max);
  return (raw: string, name: string): number => {
    if (raw.trim() === '0') return 0;
    try {
      return within(raw, name);
    } catch {
      throw new ConfigError(`${name} must be 0 (off) or a whole number from ${min} to ${max} (got "${raw}")`);
    }
  };
}

function bool(raw: string, name: string): boolean {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  throw new ConfigError(`${name} must be true or false (got "${raw}")`);
}

function text(raw: string): string {
  return raw.trim();
}

/** An absolute http(s) URL with no query or fragment, without its trailing slash; empty → null. */
function baseUrl(raw: string, name: string): string | null {
  const v = raw.trim();
  if (v === '') return null;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new ConfigError(`${name} must be an absolute URL such as https://hooks.example.com (got "${raw}")`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '' || url.username !== '') {
    throw new ConfigError(`${name} must be an http(s) URL without credentials, query or fragment (got "${raw}")`);
  }
  return url.toString().replace(/\/+$/, '');
}

function role(raw: string, name: string): Role {
  const v = raw.trim();
  if (v === 'api' || v === 'worker' || v === 'all') return v;
  throw new ConfigError(`${name} must be one of api, worker, all (got "${raw}")`);
}

function signatureScheme(raw: string, name: string): NamedScheme {
  const v = raw.trim();
  const found = NAMED_SCHEMES.find((s) => s === v);
  if (found) return found;
  throw new ConfigError(`${name} must be one of ${NAMED_SCHEMES.join(', ')} (got "${raw}")`);
}

/** A DNS name or IPv4 address as URL normalises it (lowercase, punycode): no wildcard, no IPv6, nothing CSP would misread. */
const ORIGIN_HOST = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * Origins (scheme://host[:port], http or https, no path, query or credentials), separated by
 * spaces or commas; empty → none. Each is kept as URL writes its origin (default port dropped).
 */
function originList(raw: string, name: string): readonly string[] {
  const origins: string[] = [];
  for (const item of raw.split(/[\s,]+/).filter((s) => s !== '')) {
    const refuse = (why: string) =>
      new ConfigError(`${name} must list origins such as https://app.example.com or http://localhost:3000, separated by spaces or commas: "${item}" ${why}`);
    let url: URL;
    try {
      url = new URL(item);
    } catch {
      throw refuse('is not an origin');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refuse('is not http or https');
    if (url.username !== '' || url.password !== '') throw refuse('has credentials');
    if (!/^https?:\/\/[^/?#]+\/?$/i.test(item)) throw refuse('has a path, query or fragment');
    if (!ORIGIN_HOST.test(url.hostname)) throw refuse('does not name one host (no wildcards or IPv6 literals)');
    if (url.port === '0') throw refuse('has port 0');
    if (!origins.includes(url.origin)) origins.push(url.origin);
  }
  return origins;
}

/** The dashboard's product name: 1 to 60 characters, no control characters (escaped wherever it is shown). */
function portalTitle(raw: string, name: string): string {
  const v = raw.trim();
  if (v.length === 0 || [...v].length > 60 || /[\u0000-\u001f\u007f-\u009f]/.test(v)) {
    throw new ConfigError(`${name} must be 1 to 60 characters with no control characters (got "${raw}")`);
  }
  return v;
}

/** A colour as #rgb or #rrggbb (nothing else reaches the page's CSS), kept as lowercase #rrggbb. */
function hexColour(raw: string, name: string): string | null {
  const v = raw.trim().toLowerCase();
  if (v === '') return null;
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/.exec(v);
  if (m === null) throw new ConfigError(`${name} must be a colour written #rgb or #rrggbb, such as #0a7d5a (got "${raw}")`);
  const hex = m[1]!;
  return hex.length === 3 ? `#${[...hex].map((c) => c + c).join('')}` : v;
}

function logLevel(raw: string, name: string): string {
  const v = raw.trim().toLowerCase();
  if (['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(v)) return v;
  throw new ConfigError(`${name} must be one of fatal, error, warn, info, debug, trace, silent`);
}

const SETTINGS = [
  { key: 'host', env: 'HAREPOST_HOST', flag: 'host', parse: text, fallback: '127.0.0.1' },
  { key: 'port', env: 'HAREPOST_PORT', flag: 'port', parse: int(0, 65535), fallback: 8080 },
  {
    key: 'databaseUrl',
    env: 'HAREPOST_DATABASE_URL',
    flag: 'database-url',
    parse: text,
    fallback: './.harepost/harepost.db',
  },
  { key: 'role', env: 'HAREPOST_ROLE', flag: 'role', parse: role, fallback: 'all' },
  {
    key: 'allowPrivateNetworks',
    env: 'HAREPOST_ALLOW_PRIVATE_NETWORKS',
    flag: 'allow-private-networks',
    parse: text,
    fallback: '',
  },
  {
    key: 'allowHttpTargets',
    env: 'HAREPOST_ALLOW_HTTP_TARGETS',
    flag: 'allow-http-targets',
    parse: bool,
    fallback: false,
  },
  { key: 'dnsServers', env: 'HAREPOST_DNS_SERVERS', flag: 'dns-servers', parse: text, fallback: '' },
  { key: 'attemptThread', env: 'HAREPOST_ATTEMPT_THREAD', flag: 'attempt-thread', parse: bool, fallback: true },
  {
    key: 'rateLimitPerSecond',
    env: 'HAREPOST_RATE_LIMIT_PER_SECOND',
    flag: 'rate-limit-per-second',
    parse: int(1, 10_000_000),
    fallback: 200,
  },
  {
    key: 'rateLimitBurst',
    env: 'HAREPOST_RATE_LIMIT_BURST',
    flag: 'rate-limit-burst',
    parse: int(0, 10_000_000),
    fallback: 0, // 0 → same as the per-second rate
  },
  {
    key: 'maxDestinations',
    env: 'HAREPOST_MAX_DESTINATIONS',
    flag: 'max-destinations',
    parse: int(1, 10_000_000),
    fallback: 1000,
  },
  { key: 'maxKeys', env: 'HAREPOST_MAX_KEYS', flag: 'max-keys', parse: int(1, 1_000_000), fallback: 100 },
  { key: 'maxDomains', env: 'HAREPOST_MAX_DOMAINS', flag: 'max-domains', parse: int(1, 1_000_000), fallback: 100 },
  {
    key: 'maxPendingDeliveries',
    env: 'HAREPOST_MAX_PENDING_DELIVERIES',
    flag: 'max-pending-deliveries',
    parse: int(1, 1_000_000_000_000),
    fallback: 1_000_000,
  },
  {
    key: 'maxBodyBytes',
    env: 'HAREPOST_MAX_BODY_BYTES',
    flag: 'max-body-bytes',
    parse: int(1024, 64 * 1024 * 1024),
    fallback: 1024 * 1024,
  },
  {
    key: 'adminToken',
    env: 'HAREPOST_ADMIN_TOKEN',
    flag: 'admin-token',
    parse: (raw: string) => (raw.trim() === '' ? null : raw.trim()),
    fallback: null,
  },
  { key: 'logLevel', env: 'HAREPOST_LOG_LEVEL', flag: 'log-level', parse: logLevel, fallback: 'info' },
  {
    key: 'maxInFlight',
    env: 'HAREPOST_MAX_IN_FLIGHT',
    flag: 'max-in-flight',
    parse: int(1, 100_000),
    fallback: 1024,
  },
  {
    key: 'maxInFlightPerOrigin',
    env: 'HAREPOST_MAX_IN_FLIGHT_PER_ORIGIN',
    flag: 'max-in-flight-per-origin',
    parse: int(1, 10_000),
    fallback: 128,
  },
  {
    key: 'maxInFlightPerAccount',
    env: 'HAREPOST_MAX_IN_FLIGHT_PER_ACCOUNT',
    flag: 'max-in-flight-per-account',
    parse: int(1, 100_000),
    fallback: 256,
  },
  {
    key: 'holdMaxMs',
    env: 'HAREPOST_HOLD_MAX_MS',
    flag: 'hold-max-ms',
    parse: int(1000, 30 * 86_400_000),
    fallback: 3_600_000,
  },
  {
    key: 'leaseMarginMs',
    env: 'HAREPOST_LEASE_MARGIN_MS',
    flag: 'lease-margin-ms',
    parse: int(100, 3_600_000),
    fallback: 5_000,
  },
  {
    key: 'shutdownGraceMs',
    env: 'HAREPOST_SHUTDOWN_GRACE_MS',
    flag: 'shutdown-grace-ms',
    parse: int(0, 600_000),
    fallback: 10_000,
  },
  {
    key: 'metricsToken',
    env: 'HAREPOST_METRICS_TOKEN',
    flag: 'metrics-token',
    parse: (raw: string) => (raw.trim() === '' ? null : raw.trim()),
    fallback: null,
  },
  {
    key: 'metricsCacheMs',
    env: 'HAREPOST_METRICS_CACHE_MS',
    flag: 'metrics-cache-ms',
    parse: int(0, 3_600_000),
    fallback: 10_000,
  },
  {
    key: 'breakerFailures',
    env: 'HAREPOST_BREAKER_FAILURES',
    flag: 'breaker-failures',
    parse: int(1, 1000),
    fallback: 5,
  },
  {
    key: 'breakerProbeMs',
    env: 'HAREPOST_BREAKER_PROBE_MS',
    flag: 'breaker-probe-ms',
    parse: int(100, 3_600_000),
    fallback: 1000,
  },
  {
    key: 'retentionDays',
    env: 'HAREPOST_RETENTION_DAYS',
    flag: 'retention-days',
    parse: int(1, 36_500),
    fallback: 30,
  },
  {
    key: 'retentionIntervalMs',
    env: 'HAREPOST_RETENTION_INTERVAL_MS',
    flag: 'retention-interval-ms',
    parse: int(1000, 86_400_000),
    fallback: 60_000,
  },
  {
    key: 'vacuumIntervalMs',
    env: 'HAREPOST_VACUUM_INTERVAL_MS',
    flag: 'vacuum-interval-ms',
    parse: intOrOff(1000, 86_400_000),
    fallback: 10_000,
  },
  {
    key: 'maxEventLoopDelayMs',
    env: 'HAREPOST_MAX_EVENT_LOOP_DELAY_MS',
    flag: 'max-event-loop-delay-ms',
    parse: intOrOff(1, 60_000),
    fallback: 200,
  },
  {
    key: 'maxCommitQueue',
    env: 'HAREPOST_MAX_COMMIT_QUEUE',
    flag: 'max-commit-queue',
    parse: intOrOff(1, 1_000_000),
    fallback: 2000,
  },
  {
    key: 'maxPoolWaiting',
    env: 'HAREPOST_MAX_POOL_WAITING',
    flag: 'max-pool-waiting',
    parse: intOrOff(1, 1_000_000),
    fallback: 500,
  },
  { key: 'publicUrl', env: 'HAREPOST_PUBLIC_URL', flag: 'public-url', parse: baseUrl, fallback: null },
  {
    key: 'defaultSignature',
    env: 'HAREPOST_DEFAULT_SIGNATURE',
    flag: 'default-signature',
    parse: signatureScheme,
    fallback: 'standard-webhooks',
  },
  {
    key: 'portalFrameAncestors',
    env: 'HAREPOST_PORTAL_FRAME_ANCESTORS',
    flag: 'portal-frame-ancestors',
    parse: originList,
    fallback: [],
  },
  { key: 'portalTitle', env: 'HAREPOST_PORTAL_TITLE', flag: 'portal-title', parse: portalTitle, fallback: 'Harepost' },
  { key: 'portalAccent', env: 'HAREPOST_PORTAL_ACCENT', flag: 'portal-accent', parse: hexColour, fallback: null },
] as const satisfies ReadonlyArray<Setting<keyof Config>>;

/** Names of the flags `loadConfig` understands (without the leading `--`). */
export const CONFIG_FLAGS: readonly string[] = SETTINGS.map((s) => s.flag);

/**
 * Builds the configuration: defaults, then the environment, then flags.
 * Throws ConfigError naming the setting at fault.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  flags: Record<string, string | boolean> = {},
): Config {
  const out: Record<string, unknown> = {};
  for (const s of SETTINGS as ReadonlyArray<Setting<keyof Config>>) {
    const flag = flags[s.flag];
    const envValue = env[s.env];
    if (flag !== undefined) {
      out[s.key] = s.parse(flag === true ? 'true' : String(flag), `--${s.flag}`);
    } else if (envValue !== undefined && envValue !== '') {
      out[s.key] = s.parse(envValue, s.env);
    } else {
      out[s.key] = s.fallback;
    }
  }
  const config = out as unknown as Config;
  if (config.rateLimitBurst === 0) config.rateLimitBurst = config.rateLimitPerSecond;
  return config;
}
