/**
 * Events on PostgreSQL: one read, and the account's list newest first. They are written in the
 * delivery queue's grouped commit, with their deliveries (queue/postgres-inserts.ts).
 */
import { decodeCursor, encodeCursor } from '../cursor.js';
import { toEvent } from '../rows.js';
import type { EventPage, EventRecord, EventsStore, KeyMode } from '../store.js';
import type { Querier } from '../postgres/querier.js';

export class PostgresEvents implements EventsStore {
  constructor(private readonly q: Querier) {}

  async getEvent(accountId: string, mode: KeyMode, id: string): Promise<EventRecord | null> {
    const [r] = await this.q('SELECT * FROM events WHERE id = $1 AND account_id = $2 AND mode = $3', [id, accountId, mode]);
    return r ? toEvent(r) : null;
  }

  async listEvents(accountId: string, mode: KeyMode, query: { limit: number; cursor?: string }): Promise<EventPage> {
    const before = query.cursor === undefined ? null : decodeCursor(query.cursor);
    const rows = await this.q(
      `SELECT * FROM events WHERE account_id = $1 AND mode = $2 AND ($3::bigint IS NULL OR seq < $3)
       ORDER BY seq DESC LIMIT $4`,
      [accountId, mode, before, query.limit + 1],
    );
    const more = rows.length > query.limit;
    const page = more ? rows.slice(0, query.limit) : rows;
    const last = page[page.length - 1];
    return { rows: page.map(toEvent), next_cursor: more && last ? encodeCursor(last.seq as number) : null };
  }
}
