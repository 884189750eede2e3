/** Events as they were sent, on the embedded store: their insert (in the commit of their deliveries) and reads. */
import { decodeCursor, encodeCursor } from '../cursor.js';
import { type Row, eventBodyColumns, toEvent } from '../rows.js';
import type { SqliteConnection } from '../sqlite/connection.js';
import type { EventPage, EventRecord, EventsStore, KeyMode } from '../store.js';

export class SqliteEvents implements EventsStore {
  /** Prepared on first use (the tables exist only after migrate()). */
  private readonly statements;

  constructor(conn: SqliteConnection) {
    this.statements = conn.prepared((db) => ({
      insertEvent: db.prepare(
        `INSERT INTO events (id, account_id, mode, type, body, payload, idempotency_key, metadata, created_at)
         VALUES (:id, :account_id, :mode, :type, :body, :payload, :idempotency_key, :metadata, :created_at)`,
      ),
      getEvent: db.prepare('SELECT * FROM events WHERE id = ? AND account_id = ? AND mode = ?'),
      listEvents: db.prepare(
        'SELECT * FROM events WHERE account_id = ? AND mode = ? ORDER BY seq DESC LIMIT ?',
      ),
      listEventsBefore: db.prepare(
        'SELECT * FROM events WHERE account_id = ? AND mode = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
      ),
    }));
  }

  private get s() {
    return this.statements();
  }

  /**
   * Called inside the delivery-insert transaction, so an event and its deliveries commit together;
   * `payload`: the bytes its deliveries send, kept here once (rows.ts eventBodyColumns).
   */
  insertEvent(e: EventRecord, payload?: Buffer | null): void {
    this.s.insertEvent.run({ ...e, ...eventBodyColumns(e, payload), metadata: e.metadata === null ? null : JSON.stringify(e.metadata) });
  }

  async getEvent(accountId: string, mode: KeyMode, id: string): Promise<EventRecord | null> {
    const r = this.s.getEvent.get(id, accountId, mode) as Row | undefined;
    return r ? toEvent(r) : null;
  }

  async listEvents(accountId: string, mode: KeyMode, query: { limit: number; cursor?: string }): Promise<EventPage> {
    const rows = (
      query.cursor === undefined
        ? this.s.listEvents.all(accountId, mode, query.limit + 1)
        : this.s.listEventsBefore.all(accountId, mode, decodeCursor(query.cursor), query.limit + 1)
    ) as Row[];
    const more = rows.length > query.limit;
    const page = more ? rows.slice(0, query.limit) : rows;
    const last = page[page.length - 1];
    return { rows: page.map(toEvent), next_cursor: more && last ? encodeCursor(last.seq as number) : null };
  }
}
