/**
 * Destinations, their secrets and subscriptions, on the embedded store.
 * A destination's state reaches its pending deliveries in the same transaction: disabling parks
 * them (run_at NULL, they wait), enabling makes them due, a new url or headers apply to them,
 * deleting ends them as dead letters with the reason.
 * Re-enabling one (updateDestination with enabled: true) wakes dispatchers here, and only here,
 * through `wake` (given by the store): its parked deliveries are claimable again.
 */
import { DEFAULT_SCHEME, signatureToStored } from '../../core/signature-scheme.js';
import { type Row, gateOf, toDestination } from '../rows.js';
import { StatsTally } from '../delivery-stats.js';
import { statsWriter } from '../sqlite/stats.js';
import type { SqliteConnection } from '../sqlite/connection.js';
import type { SqliteLimits } from '../sqlite/limits.js';
import type { LimitDefaults } from '../../core/limits.js';
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

const PENDING = `status IN ('queued', 'retrying')`;

export class SqliteDestinations implements DestinationsStore {
  /** Prepared on first use (the tables exist only after migrate()). */
  private readonly statements;

  constructor(
    private readonly conn: SqliteConnection,
    private readonly limits: SqliteLimits,
    private readonly wake: () => void,
  ) {
    this.statements = conn.prepared((db) => ({
      addStats: statsWriter(db),
      insertDestination: db.prepare(
        `INSERT INTO destinations (id, account_id, mode, url, origin, name, description, enabled, disabled_reason,
           headers, policy, rate_per_second, max_in_flight, signature, created_at, updated_at)
         VALUES (:id, :account_id, :mode, :url, :origin, :name, :description, :enabled, :disabled_reason,
           :headers, :policy, :rate_per_second, :max_in_flight, :signature, :created_at, :updated_at)`,
      ),
      getDestination: db.prepare('SELECT * FROM destinations WHERE id = ? AND account_id = ? AND mode = ?'),
      getDestinationById: db.prepare('SELECT * FROM destinations WHERE id = ?'),
      listDestinations: db.prepare(
        'SELECT * FROM destinations WHERE account_id = ? AND mode = ? ORDER BY created_at, id',
      ),
      updateDestination: db.prepare(
        `UPDATE destinations SET url = :url, origin = :origin, name = :name, description = :description,
           enabled = :enabled, disabled_reason = :disabled_reason, headers = :headers, policy = :policy,
           rate_per_second = :rate_per_second, max_in_flight = :max_in_flight, signature = :signature,
           updated_at = :updated_at
         WHERE id = :id`,
      ),
      deleteDestination: db.prepare('DELETE FROM destinations WHERE id = ?'),
      subscriptionTypes: db.prepare(
        'SELECT event_type FROM subscriptions WHERE destination_id = ? ORDER BY created_at, rowid',
      ),
      insertSubscription: db.prepare(
        `INSERT INTO subscriptions (id, account_id, mode, destination_id, event_type, created_at)
         VALUES (:id, :account_id, :mode, :destination_id, :event_type, :created_at)
         ON CONFLICT (destination_id, event_type) DO NOTHING`,
      ),
      subscriptionByType: db.prepare('SELECT * FROM subscriptions WHERE destination_id = ? AND event_type = ?'),
      deleteSubscriptionsOf: db.prepare('DELETE FROM subscriptions WHERE destination_id = ?'),
      deleteSubscriptionType: db.prepare('DELETE FROM subscriptions WHERE destination_id = ? AND event_type = ?'),
      getSubscription: db.prepare('SELECT * FROM subscriptions WHERE id = ? AND account_id = ? AND mode = ?'),
      deleteSubscription: db.prepare('DELETE FROM subscriptions WHERE id = ?'),
      listSubscriptions: db.prepare(
        'SELECT * FROM subscriptions WHERE account_id = ? AND mode = ? ORDER BY created_at, rowid',
      ),
      listSubscriptionsOf: db.prepare(
        'SELECT * FROM subscriptions WHERE account_id = ? AND mode = ? AND destination_id = ? ORDER BY created_at, rowid',
      ),
      subscribed: db.prepare(
        `SELECT d.*, s.event_type AS pattern FROM destinations d JOIN subscriptions s ON s.destination_id = d.id
         WHERE d.account_id = ? AND d.mode = ? AND d.enabled = 1 ORDER BY d.created_at, d.id, s.created_at, s.rowid`,
      ),
      touchDestination: db.prepare('UPDATE destinations SET updated_at = ? WHERE id = ?'),
      insertSecret: db.prepare(
        `INSERT INTO destination_secrets (destination_id, secret, created_at, retired_at)
         VALUES (:destination_id, :secret, :created_at, NULL)`,
      ),
      retireSecret: db.prepare(
        'UPDATE destination_secrets SET retired_at = :at WHERE destination_id = :destination_id AND retired_at IS NULL',
      ),
      secrets: db.prepare(
        `SELECT secret, created_at, retired_at FROM destination_secrets
         WHERE destination_id = ? AND (retired_at IS NULL OR retired_at > ?)
         ORDER BY (retired_at IS NULL) DESC, created_at DESC, rowid DESC`,
      ),
      deleteSecrets: db.prepare('DELETE FROM destination_secrets WHERE destination_id = ?'),
      // an attempt in flight keeps its lease; its result parks it (see finishAttempt)
      parkPending: db.prepare(
        `UPDATE deliveries SET run_at = NULL WHERE destination_id = ? AND ${PENDING} AND lease_token IS NULL`,
      ),
      unparkPending: db.prepare(
        `UPDATE deliveries SET run_at = MAX(COALESCE(next_attempt_at, :now), :now)
         WHERE destination_id = :id AND ${PENDING} AND run_at IS NULL`,
      ),
      retargetPending: db.prepare(
        `UPDATE deliveries SET target = :url, origin = :origin WHERE destination_id = :id AND ${PENDING}`,
      ),
      // limits set or lifted: its pending deliveries move to or from its gate
      regatePending: db.prepare(
        `UPDATE deliveries SET gate = ${gateOf('deliveries.destination_id')} WHERE destination_id = ? AND ${PENDING}`,
      ),
      pendingHeaders: db.prepare(`SELECT seq, headers FROM deliveries WHERE destination_id = ? AND ${PENDING}`),
      setHeaders: db.prepare('UPDATE deliveries SET headers = ? WHERE seq = ?'),
      // an attempt in flight keeps its lease, so its result is still recorded (see finishAttempt)
      endPending: db.prepare(
        `UPDATE deliveries SET status = 'dead_letter', run_at = NULL, next_attempt_at = NULL,
           error = :reason, updated_at = :now
         WHERE destination_id = :id AND ${PENDING}
         RETURNING lease_token`,
      ),
    }));
  }

  private get s() {
    return this.statements();
  }

  private addStats(stats: StatsTally): void {
    this.s.addStats(stats);
  }

  private withEvents(r: Row): DestinationRecord {
    const types = (this.s.subscriptionTypes.all(r.id) as Row[]).map((x) => x.event_type as string);
    return toDestination(r, types);
  }

  private addSubscriptions(d: { id: string; account_id: string; mode: string }, subs: readonly NewSubscription[], now: number) {
    for (const sub of subs) {
      this.s.insertSubscription.run({
        id: sub.id,
        account_id: d.account_id,
        mode: d.mode,
        destination_id: d.id,
        event_type: sub.event_type,
        created_at: now,
      });
    }
  }

  async createDestination(
    d: NewDestination,
    subscriptions: readonly NewSubscription[],
    secret: SigningSecret,
    limits?: LimitDefaults,
  ): Promise<DestinationRecord> {
    return this.conn.db.transaction(() => {
      if (limits) this.limits.ensureRoom(d.account_id, 'max_destinations', limits);
      this.s.insertDestination.run({
        ...d,
        enabled: d.enabled ? 1 : 0,
        headers: JSON.stringify(d.headers),
        policy: JSON.stringify(d.policy),
        rate_per_second: d.rate_limit?.per_second ?? null,
        max_in_flight: d.max_in_flight ?? null,
        signature: signatureToStored(d.signature ?? DEFAULT_SCHEME),
      });
      this.addSubscriptions(d, subscriptions, d.created_at);
      this.s.insertSecret.run({ destination_id: d.id, secret: secret.secret, created_at: secret.created_at });
      return this.withEvents(this.s.getDestinationById.get(d.id) as Row);
    }).immediate(); // the count and the insert: no other process's write between them
  }

  async getDestination(accountId: string, mode: KeyMode, id: string): Promise<DestinationRecord | null> {
    const r = this.s.getDestination.get(id, accountId, mode) as Row | undefined;
    return r ? this.withEvents(r) : null;
  }

  async listDestinations(accountId: string, mode: KeyMode): Promise<DestinationRecord[]> {
    return (this.s.listDestinations.all(accountId, mode) as Row[]).map((r) => this.withEvents(r));
  }

  private applyPatch(current: DestinationRecord, patch: DestinationPatch, now: number): void {
    const next = { ...current, ...patch };
    this.s.updateDestination.run({
      id: current.id,
      url: next.url,
      origin: next.origin,
      name: next.name,
      description: next.description,
      enabled: next.enabled ? 1 : 0,
      disabled_reason: next.enabled ? null : next.disabled_reason,
      headers: JSON.stringify(next.headers),
      policy: JSON.stringify(next.policy),
      rate_per_second: next.rate_limit?.per_second ?? null,
      max_in_flight: next.max_in_flight,
      signature: signatureToStored(next.signature),
      updated_at: now,
    });
    if ((current.rate_limit === null && current.max_in_flight === null) !== (next.rate_limit === null && next.max_in_flight === null)) {
      this.s.regatePending.run(current.id);
    }
    if (current.enabled && !next.enabled) this.s.parkPending.run(current.id);
    if (!current.enabled && next.enabled) this.s.unparkPending.run({ id: current.id, now });
    if (patch.url !== undefined) {
      this.s.retargetPending.run({ id: current.id, url: next.url, origin: next.origin });
    }
    if (patch.headers !== undefined) {
      // keep what each delivery had beyond the destination's own headers (its Content-Type)
      const own = new Set(Object.keys(current.headers).map((k) => k.toLowerCase()));
      for (const r of this.s.pendingHeaders.all(current.id) as Row[]) {
        const old = JSON.parse(r.headers as string) as Record<string, string>;
        const kept = Object.fromEntries(Object.entries(old).filter(([k]) => !own.has(k.toLowerCase())));
        this.s.setHeaders.run(JSON.stringify({ ...kept, ...next.headers }), r.seq);
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
    const updated = this.conn.db.transaction(() => {
      const row = this.s.getDestination.get(id, accountId, mode) as Row | undefined;
      if (!row) return null;
      const current = this.withEvents(row);
      this.applyPatch(current, patch, now);
      if (subscriptions !== null) {
        const wanted = new Set(subscriptions.map((s) => s.event_type));
        for (const t of current.events) if (!wanted.has(t)) this.s.deleteSubscriptionType.run(id, t);
        this.addSubscriptions(current, subscriptions, now);
      }
      return this.withEvents(this.s.getDestinationById.get(id) as Row);
    })();
    if (patch.enabled === true) this.wake(); // its parked deliveries are due again
    return updated;
  }

  async disableDestination(id: string, reason: string, now: number): Promise<void> {
    this.conn.db.transaction(() => {
      const row = this.s.getDestinationById.get(id) as Row | undefined;
      if (!row || row.enabled !== 1) return;
      this.applyPatch(this.withEvents(row), { enabled: false, disabled_reason: reason }, now);
    })();
  }

  async deleteDestination(accountId: string, mode: KeyMode, id: string, reason: string, now: number): Promise<boolean> {
    return this.conn.db.transaction(() => {
      if (!this.s.getDestination.get(id, accountId, mode)) return false;
      const ended = this.s.endPending.all({ id, reason, now }) as Row[];
      // one in flight is counted by its attempt's result, like every attempt
      const stats = new StatsTally();
      stats.ended(accountId, mode, now, 'dead_letter', ended.filter((r) => r.lease_token === null).length);
      this.addStats(stats);
      this.s.deleteSubscriptionsOf.run(id);
      this.s.deleteSecrets.run(id);
      this.s.deleteDestination.run(id);
      return true;
    })();
  }

  async getDestinationSecrets(destinationId: string, retiredAfter: number): Promise<SigningSecret[]> {
    return this.s.secrets.all(destinationId, retiredAfter) as SigningSecret[];
  }

  async rotateDestinationSecret(accountId: string, mode: KeyMode, id: string, next: SigningSecret): Promise<boolean> {
    return this.conn.db.transaction(() => {
      if (!this.s.getDestination.get(id, accountId, mode)) return false;
      this.s.retireSecret.run({ destination_id: id, at: next.created_at });
      this.s.insertSecret.run({ destination_id: id, secret: next.secret, created_at: next.created_at });
      this.s.touchDestination.run(next.created_at, id);
      return true;
    })();
  }

  async createSubscription(
    accountId: string,
    mode: KeyMode,
    destinationId: string,
    sub: NewSubscription,
    now: number,
  ): Promise<{ record: SubscriptionRecord; created: boolean } | null> {
    return this.conn.db.transaction(() => {
      if (!this.s.getDestination.get(destinationId, accountId, mode)) return null;
      const r = this.s.insertSubscription.run({
        id: sub.id,
        account_id: accountId,
        mode,
        destination_id: destinationId,
        event_type: sub.event_type,
        created_at: now,
      });
      if (r.changes > 0) this.s.touchDestination.run(now, destinationId);
      const record = this.s.subscriptionByType.get(destinationId, sub.event_type) as SubscriptionRecord;
      return { record, created: r.changes > 0 };
    })();
  }

  async listSubscriptions(accountId: string, mode: KeyMode, destinationId?: string): Promise<SubscriptionRecord[]> {
    return (
      destinationId === undefined
        ? this.s.listSubscriptions.all(accountId, mode)
        : this.s.listSubscriptionsOf.all(accountId, mode, destinationId)
    ) as SubscriptionRecord[];
  }

  async deleteSubscription(accountId: string, mode: KeyMode, id: string, now: number): Promise<boolean> {
    return this.conn.db.transaction(() => {
      const sub = this.s.getSubscription.get(id, accountId, mode) as SubscriptionRecord | undefined;
      if (!sub) return false;
      this.s.deleteSubscription.run(id);
      this.s.touchDestination.run(now, sub.destination_id);
      return true;
    })();
  }

  async subscribedDestinations(accountId: string, mode: KeyMode): Promise<SubscribedDestination[]> {
    const out = new Map<string, { row: Row; patterns: string[] }>();
    for (const r of this.s.subscribed.all(accountId, mode) as Row[]) {
      const entry = out.get(r.id as string);
      if (entry) entry.patterns.push(r.pattern as string);
      else out.set(r.id as string, { row: r, patterns: [r.pattern as string] });
    }
    return [...out.values()].map(({ row, patterns }) => ({ destination: toDestination(row, patterns), patterns }));
  }
}
