/**
 * Destinations, their secrets and subscriptions, on PostgreSQL — the same rules as
 * destinations/sqlite.ts: a destination's state reaches its pending deliveries in the same
 * transaction.
 *
 * Re-enabling a destination (updateDestination with enabled: true) makes its parked deliveries
 * due: updateDestination then wakes the dispatchers of every process, through the `wake` the
 * store gives (a NOTIFY on the work channel, postgres/wake-ups.ts) — the one place it is done.
 */
import { DEFAULT_SCHEME, signatureToStored } from '../../core/signature-scheme.js';
import { type Row, gateOf, toDestination } from '../rows.js';
import { StatsTally } from '../delivery-stats.js';
import { addStats } from '../postgres/stats.js';
import type {
  DestinationPatch,
  DestinationRecord,
  DestinationsStore,
  KeyMode,
  NewDestination,
  NewSubscription,
  SigningSecret,
  SubscribedDestination,
  SubscriptionRecord,
} from '../store.js';
import type { Querier, Transact } from '../postgres/querier.js';
import { ensureRoom } from '../postgres/limits.js';
import type { LimitDefaults } from '../../core/limits.js';
import { NOW, type PgClock, fromNow, nowParam } from '../postgres/clock.js';

const PENDING = `status IN ('queued', 'retrying')`;

/** Locks the caller's destination for the rest of the transaction; undefined when it is not theirs. */
async function lockDestination(q: Querier, id: string, accountId: string, mode: KeyMode): Promise<Row | undefined> {
  const [row] = await q('SELECT * FROM destinations WHERE id = $1 AND account_id = $2 AND mode = $3 FOR UPDATE', [
    id,
    accountId,
    mode,
  ]);
  return row;
}

export class PostgresDestinations implements DestinationsStore {
  /** @param wake tells every process's dispatchers that work may be due (a re-enabled destination's) */
  constructor(
    private readonly q: Querier,
    private readonly tx: Transact,
    private readonly wake: () => Promise<void>,
    private readonly clock: PgClock = 'database',
  ) {}

  private async withEvents(q: Querier, r: Row): Promise<DestinationRecord> {
    const types = await q('SELECT event_type FROM subscriptions WHERE destination_id = $1 ORDER BY seq', [r.id]);
    return toDestination(
      r,
      types.map((t) => t.event_type as string),
    );
  }

  private async addSubscriptions(
    q: Querier,
    d: { id: string; account_id: string; mode: string },
    subs: readonly NewSubscription[],
    now: number,
  ): Promise<void> {
    if (subs.length === 0) return;
    await q(
      `INSERT INTO subscriptions (id, account_id, mode, destination_id, event_type, created_at)
       SELECT s.id, $1, $2, $3, s.event_type, $4 FROM unnest($5::text[], $6::text[]) WITH ORDINALITY AS s(id, event_type, n)
       ORDER BY n
       ON CONFLICT (destination_id, event_type) DO NOTHING`,
      [d.account_id, d.mode, d.id, now, subs.map((s) => s.id), subs.map((s) => s.event_type)],
    );
  }

  async createDestination(
    d: NewDestination,
    subscriptions: readonly NewSubscription[],
    secret: SigningSecret,
    limits?: LimitDefaults,
  ): Promise<DestinationRecord> {
    return this.tx(async (q) => {
      if (limits) await ensureRoom(q, d.account_id, 'max_destinations', limits);
      const [row] = await q(
        `INSERT INTO destinations (id, account_id, mode, url, origin, name, description, enabled, disabled_reason,
           headers, policy, created_at, updated_at, rate_per_second, max_in_flight, signature)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING *`,
        [
          d.id,
          d.account_id,
          d.mode,
          d.url,
          d.origin,
          d.name,
          d.description,
          d.enabled,
          d.disabled_reason,
          JSON.stringify(d.headers),
          JSON.stringify(d.policy),
          d.created_at,
          d.updated_at,
          d.rate_limit?.per_second ?? null,
          d.max_in_flight ?? null,
          signatureToStored(d.signature ?? DEFAULT_SCHEME),
        ],
      );
      await this.addSubscriptions(q, d, subscriptions, d.created_at);
      await q('INSERT INTO destination_secrets (destination_id, secret, created_at) VALUES ($1, $2, $3)', [
        d.id,
        secret.secret,
        secret.created_at,
      ]);
      return this.withEvents(q, row!);
    });
  }

  async getDestination(accountId: string, mode: KeyMode, id: string): Promise<DestinationRecord | null> {
    const [r] = await this.q('SELECT * FROM destinations WHERE id = $1 AND account_id = $2 AND mode = $3', [id, accountId, mode]);
    return r ? this.withEvents(this.q, r) : null;
  }

  async listDestinations(accountId: string, mode: KeyMode): Promise<DestinationRecord[]> {
    const rows = await this.q('SELECT * FROM destinations WHERE account_id = $1 AND mode = $2 ORDER BY created_at, id', [
      accountId,
      mode,
    ]);
    return Promise.all(rows.map((r) => this.withEvents(this.q, r)));
  }

  private async applyPatch(q: Querier, current: DestinationRecord, patch: DestinationPatch, now: number): Promise<void> {
    const next = { ...current, ...patch };
    await q(
      `UPDATE destinations SET url = $2, origin = $3, name = $4, description = $5, enabled = $6, disabled_reason = $7,
         headers = $8, policy = $9, updated_at = $10, rate_per_second = $11, max_in_flight = $12, signature = $13
       WHERE id = $1`,
      [
        current.id,
        next.url,
        next.origin,
        next.name,
        next.description,
        next.enabled,
        next.enabled ? null : next.disabled_reason,
        JSON.stringify(next.headers),
        JSON.stringify(next.policy),
        now,
        next.rate_limit?.per_second ?? null,
        next.max_in_flight,
        signatureToStored(next.signature),
      ],
    );
    if ((current.rate_limit === null && current.max_in_flight === null) !== (next.rate_limit === null && next.max_in_flight === null)) {
      // limits set or lifted: its pending deliveries move to or from its gate
      await q(`UPDATE deliveries d SET gate = ${gateOf('d.destination_id')} WHERE d.destination_id = $1 AND ${PENDING}`, [current.id]);
    }
    if (current.enabled && !next.enabled) {
      // an attempt in flight keeps its lease; its result parks it
      await q(`UPDATE deliveries SET run_at = NULL WHERE destination_id = $1 AND ${PENDING} AND lease_token IS NULL`, [
        current.id,
      ]);
    }
    if (!current.enabled && next.enabled) {
      await q(
        `UPDATE deliveries SET run_at = GREATEST(COALESCE(next_attempt_at, ${NOW('$2')}), ${NOW('$2')})
         WHERE destination_id = $1 AND ${PENDING} AND run_at IS NULL`,
        [current.id, nowParam(this.clock, now)],
      );
    }
    if (patch.url !== undefined) {
      await q(`UPDATE deliveries SET target = $2, origin = $3 WHERE destination_id = $1 AND ${PENDING}`, [
        current.id,
        next.url,
        next.origin,
      ]);
    }
    if (patch.headers !== undefined) {
      // keep what each delivery had beyond the destination's own headers (its Content-Type)
      const own = new Set(Object.keys(current.headers).map((k) => k.toLowerCase()));
      const rows = await q(`SELECT seq, headers FROM deliveries WHERE destination_id = $1 AND ${PENDING}`, [current.id]);
      const seqs: number[] = [];
      const values: string[] = [];
      for (const r of rows) {
        const old = JSON.parse(r.headers as string) as Record<string, string>;
        const kept = Object.fromEntries(Object.entries(old).filter(([k]) => !own.has(k.toLowerCase())));
        seqs.push(r.seq as number);
        values.push(JSON.stringify({ ...kept, ...next.headers }));
      }
      if (seqs.length > 0) {
        await q(
          `UPDATE deliveries d SET headers = u.headers FROM unnest($1::bigint[], $2::text[]) AS u(seq, headers)
           WHERE d.seq = u.seq`,
          [seqs, values],
        );
      }
    }
  }

  async updateDestination(
    accountId: string,
    mode: KeyMode,
    id: string,
    patch: DestinationPatch,
    subscriptions: readonly NewSubscription[] | null,
    now: number,
  ): Promise<DestinationRecord | null> {
    const updated = await this.tx(async (q) => {
      const row = await lockDestination(q, id, accountId, mode);
      if (!row) return null;
      const current = await this.withEvents(q, row);
      await this.applyPatch(q, current, patch, now);
      if (subscriptions !== null) {
        await q('DELETE FROM subscriptions WHERE destination_id = $1 AND NOT (event_type = ANY($2::text[]))', [
          id,
          subscriptions.map((s) => s.event_type),
        ]);
        await this.addSubscriptions(q, current, subscriptions, now);
      }
      const [fresh] = await q('SELECT * FROM destinations WHERE id = $1', [id]);
      return this.withEvents(q, fresh!);
    });
    if (updated && patch.enabled === true) await this.wake(); // its parked deliveries are due again, in every process
    return updated;
  }

  async disableDestination(id: string, reason: string, now: number): Promise<void> {
    await this.tx(async (q) => {
      const [row] = await q('SELECT * FROM destinations WHERE id = $1 FOR UPDATE', [id]);
      if (!row || !row.enabled) return;
      await this.applyPatch(q, await this.withEvents(q, row), { enabled: false, disabled_reason: reason }, now);
    });
  }

  async deleteDestination(accountId: string, mode: KeyMode, id: string, reason: string, now: number): Promise<boolean> {
    return this.tx(async (q) => {
      const row = await lockDestination(q, id, accountId, mode);
      if (!row) return false;
      // an attempt in flight keeps its lease, so its result is still recorded (and counted)
      const ended = await q(
        `UPDATE deliveries SET status = 'dead_letter', run_at = NULL, next_attempt_at = NULL, error = $2, updated_at = $3
         WHERE destination_id = $1 AND ${PENDING}
         RETURNING lease_token`,
        [id, reason, now],
      );
      const stats = new StatsTally();
      stats.ended(accountId, mode, now, 'dead_letter', ended.filter((r) => r.lease_token === null).length);
      await addStats(q, stats);
      await q('DELETE FROM subscriptions WHERE destination_id = $1', [id]);
      await q('DELETE FROM destination_secrets WHERE destination_id = $1', [id]);
      await q('DELETE FROM destinations WHERE id = $1', [id]);
      return true;
    });
  }

  async getDestinationSecrets(destinationId: string, retiredAfter: number): Promise<SigningSecret[]> {
    const cutoff = fromNow(this.clock, retiredAfter);
    return (await this.q(
      `SELECT secret, created_at, retired_at FROM destination_secrets
       WHERE destination_id = $1 AND (retired_at IS NULL OR retired_at > ${NOW('$2')} + $3)
       ORDER BY (retired_at IS NULL) DESC, created_at DESC, id DESC`,
      // the cut-off on the database's clock (clock.ts): retired_at is stamped on it
      [destinationId, cutoff.base, cutoff.offset],
    )) as unknown as SigningSecret[];
  }

  async rotateDestinationSecret(accountId: string, mode: KeyMode, id: string, next: SigningSecret): Promise<boolean> {
    return this.tx(async (q) => {
      const row = await lockDestination(q, id, accountId, mode);
      if (!row) return false;
      // retired on the database's clock, as every process compares it (clock.ts)
      await q(`UPDATE destination_secrets SET retired_at = ${NOW('$2')} WHERE destination_id = $1 AND retired_at IS NULL`, [
        id,
        nowParam(this.clock, next.created_at),
      ]);
      await q('INSERT INTO destination_secrets (destination_id, secret, created_at) VALUES ($1, $2, $3)', [
        id,
        next.secret,
        next.created_at,
      ]);
      await q('UPDATE destinations SET updated_at = $2 WHERE id = $1', [id, next.created_at]);
      return true;
    });
  }

  async createSubscription(
    accountId: string,
    mode: KeyMode,
    destinationId: string,
    sub: NewSubscription,
    now: number,
  ): Promise<{ record: SubscriptionRecord; created: boolean } | null> {
    return this.tx(async (q) => {
      const dest = await lockDestination(q, destinationId, accountId, mode);
      if (!dest) return null;
      const inserted = await q(
        `INSERT INTO subscriptions (id, account_id, mode, destination_id, event_type, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (destination_id, event_type) DO NOTHING RETURNING id`,
        [sub.id, accountId, mode, destinationId, sub.event_type, now],
      );
      if (inserted.length > 0) await q('UPDATE destinations SET updated_at = $2 WHERE id = $1', [destinationId, now]);
      const [record] = await q(
        'SELECT id, account_id, mode, destination_id, event_type, created_at FROM subscriptions WHERE destination_id = $1 AND event_type = $2',
        [destinationId, sub.event_type],
      );
      return { record: record as unknown as SubscriptionRecord, created: inserted.length > 0 };
    });
  }

  async listSubscriptions(accountId: string, mode: KeyMode, destinationId?: string): Promise<SubscriptionRecord[]> {
    return (await this.q(
      `SELECT id, account_id, mode, destination_id, event_type, created_at FROM subscriptions
       WHERE account_id = $1 AND mode = $2 AND ($3::text IS NULL OR destination_id = $3) ORDER BY seq`,
      [accountId, mode, destinationId ?? null],
    )) as unknown as SubscriptionRecord[];
  }

  async deleteSubscription(accountId: string, mode: KeyMode, id: string, now: number): Promise<boolean> {
    const rows = await this.q(
      'DELETE FROM subscriptions WHERE id = $1 AND account_id = $2 AND mode = $3 RETURNING destination_id',
      [id, accountId, mode],
    );
    if (rows.length === 0) return false;
    await this.q('UPDATE destinations SET updated_at = $2 WHERE id = $1', [rows[0]!.destination_id, now]);
    return true;
  }

  async subscribedDestinations(accountId: string, mode: KeyMode): Promise<SubscribedDestination[]> {
    const rows = await this.q(
      `SELECT d.*, s.event_type AS pattern FROM destinations d JOIN subscriptions s ON s.destination_id = d.id
       WHERE d.account_id = $1 AND d.mode = $2 AND d.enabled ORDER BY d.created_at, d.id, s.seq`,
      [accountId, mode],
    );
    const out = new Map<string, { row: Row; patterns: string[] }>();
    for (const r of rows) {
      const entry = out.get(r.id as string);
      if (entry) entry.patterns.push(r.pattern as string);
      else out.set(r.id as string, { row: r, patterns: [r.pattern as string] });
    }
    return [...out.values()].map(({ row, patterns }) => ({ destination: toDestination(row, patterns), patterns }));
  }
}
