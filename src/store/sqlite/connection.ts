/**
 * The embedded store's one connection as its areas hold it. The tables exist only once migrate()
 * has run, so each area prepares its statements on first use (`prepared`), and keeps them.
 */
import type { Database as Db } from 'better-sqlite3';

export class SqliteConnection {
  /** Set by the store's migrate(): every table is there. */
  migrated = false;

  constructor(readonly db: Db) {}

  /** A getter of what `prepare` makes of the database: made on its first call (once migrated), then kept. */
  prepared<T>(prepare: (db: Db) => T): () => T {
    let made: T | undefined;
    return () => {
      if (made !== undefined) return made;
      if (!this.migrated) throw new Error('store not migrated: call migrate() first');
      return (made = prepare(this.db));
    };
  }
}
