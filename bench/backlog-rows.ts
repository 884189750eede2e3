/**
 * The pending backlog of `npm run bench:backlog` (bench/backlog.ts), written straight into either
 * store with one INSERT … SELECT over a generated series per batch, and counted afterwards.
 *
 * Two kinds of pending delivery, half each, none ever attempted by the service under test:
 *   - scheduled later: `retrying` after one attempt (last answer 503), next attempt a day ahead
 *     (run_at = next_attempt_at = now + 24 h): in the lanes index, never due during the run;
 *   - held: `queued`, of a destination that is disabled, which is how the store holds work for good
 *     (run_at NULL: parked until the destination is enabled again; destinations/sqlite.ts). A lane
 *     held by the breaker is held only in the memory of the process that saw its target fail, so a
 *     freshly started service has no such lanes.
 * A quarter of each kind belongs to the account the measured sends use, scheduled in the very lane
 * the sends go through (same account, same origin); the rest to three other accounts, over five
 * origins (one of them the sends' origin).
 */
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import pg from 'pg';
import { DEFAULT_POLICY } from '../src/core/policy.js';
import { generateSigningSecret } from '../src/core/signing.js';
import { ID_PREFIX, newId } from '../src/core/ids.js';
import { openStore } from '../src/store/open-store.js';
import { type BenchDatabase, type StoreKind, cliArgs } from './harness.js';

/** Every backlog delivery's id starts with this (no real id can: base32 ids have no l or o). */
export const BACKLOG_ID_PREFIX = 'hr_backlog';
const DAY_MS = 24 * 3600 * 1000;
const BATCH = 50_000;
const OTHER_ACCOUNTS = 3;

export interface BacklogPlan {
  rows: number;
  /** The account the measured sends use. */
  accountId: string;
  /** scheme://host:port the measured sends go to. */
  origin: string;
}

export interface BacklogWritten {
  rows: number;
  /** Accounts made, destinations disabled, rows inserted (and the counters kept): seconds. */
  writeSeconds: number;
  /** After writing: SQLite's WAL checkpointed; PostgreSQL's VACUUM ANALYZE of deliveries. Seconds. */
  settleSeconds: number;
  /** When the rows were written (their created_at and updated_at); their next attempt is a day later. */
  writtenAt: number;
}

export interface RowCounts {
  total: number;
  /** queued or retrying */
  pending: number;
  /** Backlog rows exactly as written: same status, attempt count, run time, no lease, not updated. */
  backlogIntact: number;
  /** Attempt rows of backlog deliveries (none are written: any is the service's). */
  backlogAttempts: number;
  /** Deliveries that are not the backlog's (the measured sends) by status. */
  sendsByStatus: Record<string, number>;
}

/** A direct connection to the bench database: SQLite file or the run's PostgreSQL schema. */
interface Sql {
  kind: StoreKind;
  all(text: string): Promise<Array<Record<string, unknown>>>;
  run(text: string): Promise<void>;
  close(): Promise<void>;
}

async function connect(store: StoreKind, db: BenchDatabase): Promise<Sql> {
  if (store === 'sqlite') {
    const file = new Database(db.url);
    file.pragma('busy_timeout = 5000');
    // a fixture, not a commit anyone waits on: flushed once, by the checkpoint at the end
    file.pragma('synchronous = OFF');
    return {
      kind: store,
      all: async (text) => file.prepare(text).all() as Array<Record<string, unknown>>,
      run: async (text) => {
        file.exec(text);
      },
      close: async () => {
        file.close();
      },
    };
  }
  const client = new pg.Client({ connectionString: stripSchema(db.url) });
  await client.connect();
  await client.query(`SET search_path TO ${db.schema}`);
  return {
    kind: store,
    all: async (text) => (await client.query(text)).rows as Array<Record<string, unknown>>,
    run: async (text) => {
      await client.query(text);
    },
    close: () => client.end(),
  };
}

function stripSchema(url: string): string {
  const u = new URL(url);
  u.searchParams.delete('schema');
  return u.toString();
}

const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** `CASE <index> WHEN 0 THEN values[0] … END` (or the one value). */
const pick = (index: string, values: readonly string[]) =>
  values.length === 1 ? lit(values[0]!) : `CASE ${index} ${values.map((v, k) => `WHEN ${k} THEN ${lit(v)}`).join(' ')} END`;

interface Group {
  name: string;
  size: number;
  accounts: string[];
  /** Scheduled groups: origins, spread over after accounts; held groups: one destination per account. */
  origins: string[];
  destinations: string[] | null;
}

/** The INSERT … SELECT of rows [lo, hi) of `group` (global row numbers lo.. for unique ids). */
function insertSql(kind: StoreKind, group: Group, lo: number, hi: number, writtenAt: number): string {
  const pgsql = kind === 'postgres';
  const k = group.accounts.length;
  const accountIndex = `(i % ${k})`;
  const originIndex = `((i / ${k}) % ${group.origins.length})`;
  const origin = group.destinations ? pick(accountIndex, group.origins) : pick(originIndex, group.origins);
  const held = group.destinations !== null;
  const due = writtenAt + DAY_MS;
  const columns: Array<[string, string]> = [
    ['id', pgsql ? `'${BACKLOG_ID_PREFIX}' || lpad(i::text, 19, '0')` : `'${BACKLOG_ID_PREFIX}' || printf('%019d', i)`],
    ['account_id', pick(accountIndex, group.accounts)],
    ['mode', `'live'`],
    ['target', `${origin} || '/backlog/' || i`],
    ['origin', origin],
    ['method', `'POST'`],
    ['headers', lit(JSON.stringify({ 'content-type': 'application/json' }))],
    ['body', pgsql ? `convert_to('{"backlog":' || i || '}', 'UTF8')` : `CAST('{"backlog":' || i || '}' AS BLOB)`],
    ['policy', lit(JSON.stringify(DEFAULT_POLICY))],
    ['timeout_ms', String(DEFAULT_POLICY.timeout_ms)],
    ['sign', pgsql ? 'true' : '1'],
    ['status', held ? `'queued'` : `'retrying'`],
    ['attempt_count', held ? '0' : '1'],
    ['last_status', held ? 'NULL' : '503'],
    ['created_at', String(writtenAt)],
    ['updated_at', String(writtenAt)],
    ['next_attempt_at', held ? String(writtenAt) : String(due)],
    ['run_at', held ? 'NULL' : String(due)],
    ['event_type', held ? `'order.created'` : 'NULL'],
    ['destination_id', held ? pick(accountIndex, group.destinations!) : 'NULL'],
  ];
  const series = pgsql
    ? `generate_series(${lo}::bigint, ${hi - 1}::bigint) AS n(i)`
    : `(WITH RECURSIVE s(i) AS (SELECT ${lo} UNION ALL SELECT i + 1 FROM s WHERE i < ${hi - 1}) SELECT i FROM s) AS n`;
  return `INSERT INTO deliveries (${columns.map(([c]) => c).join(', ')})
    SELECT ${columns.map(([, e]) => e).join(', ')} FROM ${series}`;
}

/** `harepost accounts create` against the bench database (before the service starts): its id. */
function createAccount(env: NodeJS.ProcessEnv, name: string): string {
  const made = spawnSync(process.execPath, [...cliArgs(), 'accounts', 'create', '--name', name, '--json'], { env, encoding: 'utf8' });
  if (made.status !== 0) throw new Error(made.stderr);
  return (JSON.parse(made.stdout) as { account_id: string }).account_id;
}

/** A destination of `accountId` to `origin`, made and then disabled through the store: its id. */
async function disabledDestination(databaseUrl: string, accountId: string, origin: string): Promise<string> {
  const store = openStore(databaseUrl);
  try {
    await store.migrate();
    const now = Date.now();
    const id = newId(ID_PREFIX.destination);
    await store.createDestination(
      {
        id,
        account_id: accountId,
        mode: 'live',
        url: `${origin}/held`,
        origin,
        name: 'backlog: disabled',
        description: null,
        enabled: true,
        disabled_reason: null,
        headers: {},
        policy: DEFAULT_POLICY,
        created_at: now,
        updated_at: now,
      },
      [{ id: newId(ID_PREFIX.subscription), event_type: 'order.*' }],
      { secret: generateSigningSecret(), created_at: now, retired_at: null },
    );
    await store.disableDestination(id, 'bench: held backlog', now);
    return id;
  } finally {
    await store.close();
  }
}

/**
 * Writes `plan.rows` pending deliveries into `db` (the service is not running yet): three more
 * accounts, a disabled destination for each account, the rows in batches, the pending counters.
 */
export async function writeBacklog(
  store: StoreKind,
  db: BenchDatabase,
  env: NodeJS.ProcessEnv,
  plan: BacklogPlan,
  progress: (line: string) => void,
): Promise<BacklogWritten> {
  const t0 = performance.now();
  const writtenAt = Date.now();
  const others = Array.from({ length: OTHER_ACCOUNTS }, (_, k) => createAccount(env, `backlog ${k + 1}`));
  const otherOrigins = [plan.origin, ...[1, 2, 3, 4].map((k) => `https://other-${k}.example.test`)];
  const ownDestination = await disabledDestination(db.url, plan.accountId, plan.origin);
  const otherDestinations: string[] = [];
  for (const [k, account] of others.entries()) otherDestinations.push(await disabledDestination(db.url, account, otherOrigins[k % otherOrigins.length]!));

  const quarter = Math.floor(plan.rows / 4);
  const groups: Group[] = [
    { name: "sends' account, scheduled in the sends' lane", size: quarter, accounts: [plan.accountId], origins: [plan.origin], destinations: null },
    { name: "sends' account, held", size: quarter, accounts: [plan.accountId], origins: [plan.origin], destinations: [ownDestination] },
    { name: 'other accounts, scheduled over 5 origins', size: quarter, accounts: others, origins: otherOrigins, destinations: null },
    {
      name: 'other accounts, held',
      size: plan.rows - 3 * quarter,
      accounts: others,
      origins: others.map((_, k) => otherOrigins[k % otherOrigins.length]!),
      destinations: otherDestinations,
    },
  ];

  const sql = await connect(store, db);
  try {
    let first = 0;
    for (const group of groups) {
      const g0 = performance.now();
      for (let lo = first; lo < first + group.size; lo += BATCH) {
        const hi = Math.min(first + group.size, lo + BATCH);
        await sql.run(store === 'sqlite' ? `BEGIN; ${insertSql(store, group, lo, hi, writtenAt)}; COMMIT;` : insertSql(store, group, lo, hi, writtenAt));
      }
      progress(`  ${group.size.toLocaleString('en-US')} rows: ${group.name} (${((performance.now() - g0) / 1000).toFixed(1)} s)`);
      first += group.size;
    }
    if (store === 'sqlite') {
      // the commit of new deliveries counts them itself (migration 15); so does this fixture
      await sql.run(
        `INSERT INTO account_backlog (account_id, pending)
           SELECT account_id, COUNT(*) FROM deliveries WHERE substr(id, 1, ${BACKLOG_ID_PREFIX.length}) = '${BACKLOG_ID_PREFIX}'
           GROUP BY account_id
         ON CONFLICT (account_id) DO UPDATE SET pending = pending + excluded.pending`,
      );
    } // PostgreSQL's statement trigger counted them
    const writeSeconds = (performance.now() - t0) / 1000;
    const s0 = performance.now();
    await sql.run(store === 'sqlite' ? 'PRAGMA wal_checkpoint(TRUNCATE)' : 'VACUUM ANALYZE deliveries');
    return { rows: plan.rows, writeSeconds, settleSeconds: (performance.now() - s0) / 1000, writtenAt };
  } finally {
    await sql.close();
  }
}

/** What the deliveries table holds; `writtenAt` is the backlog's (null: there is none). */
export async function countRows(store: StoreKind, db: BenchDatabase, writtenAt: number | null): Promise<RowCounts> {
  const sql = await connect(store, db);
  const isBacklog = `substr(d.id, 1, ${BACKLOG_ID_PREFIX.length}) = '${BACKLOG_ID_PREFIX}'`;
  const n = (v: unknown) => Number(v ?? 0);
  try {
    const [totals] = await sql.all(
      `SELECT COUNT(*) AS total, SUM(CASE WHEN d.status IN ('queued', 'retrying') THEN 1 ELSE 0 END) AS pending FROM deliveries d`,
    );
    let backlogIntact = 0;
    let backlogAttempts = 0;
    if (writtenAt !== null) {
      const due = writtenAt + DAY_MS;
      const [intact] = await sql.all(
        `SELECT COUNT(*) AS n FROM deliveries d WHERE ${isBacklog} AND d.lease_token IS NULL AND d.updated_at = ${writtenAt}
           AND ((d.status = 'retrying' AND d.attempt_count = 1 AND d.run_at = ${due} AND d.next_attempt_at = ${due})
             OR (d.status = 'queued' AND d.attempt_count = 0 AND d.run_at IS NULL))`,
      );
      const [attempts] = await sql.all(`SELECT COUNT(*) AS n FROM attempts a JOIN deliveries d ON d.seq = a.delivery_seq WHERE ${isBacklog}`);
      backlogIntact = n(intact!.n);
      backlogAttempts = n(attempts!.n);
    }
    const sendsByStatus: Record<string, number> = {};
    for (const r of await sql.all(`SELECT d.status, COUNT(*) AS n FROM deliveries d WHERE NOT (${isBacklog}) GROUP BY d.status`)) {
      sendsByStatus[r.status as string] = n(r.n);
    }
    return { total: n(totals!.total), pending: n(totals!.pending), backlogIntact, backlogAttempts, sendsByStatus };
  } finally {
    await sql.close();
  }
}
