/**
 * Every setting Harepost reads, its environment name, default and validation, in one place.
 * CLI flags mirror the environment: `--port 9000` overrides `HAREPOST_PORT`.
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
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  maxBodyBytes: number;
  adminToken: string | null;
  logLevel: string;
  /** Concurrent attempts across all targets, and per target origin. */
  maxInFlight: number;
  maxInFlightPerOrigin: number;
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
   * Where people reach this Harepost (HAREPOST_PUBLIC_URL, e.g. https://hooks.example.com), for
   * the links it prints (dashboard login links); null → http://HAREPOST_HOST:HAREPOST_PORT.
   */
  publicUrl: string | null;
  /**
   * The signature scheme of destinations created through /v1/destinations without one
   * (HAREPOST_DEFAULT_SIGNATURE); /v1/webhooks always defaults to posthawk.
   */
  defaultSignature: NamedScheme;
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
  { key: 'publicUrl', env: 'HAREPOST_PUBLIC_URL', flag: 'public-url', parse: baseUrl, fallback: null },
  {
    key: 'defaultSignature',
    env: 'HAREPOST_DEFAULT_SIGNATURE',
    flag: 'default-signature',
    parse: signatureScheme,
    fallback: 'standard-webhooks',
  },
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
