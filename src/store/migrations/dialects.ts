/**
 * What the two stores' SQL differs by, stated once: the tokens the one migration list (list.ts)
 * is written with, and their text in SQLite and in PostgreSQL. A migration that needs something
 * not here either adds a token (both texts, side by side below) or, where its structure differs,
 * gives both texts with `d.pick`.
 */

export type DialectName = 'sqlite' | 'postgres';

export interface Dialect {
  readonly name: DialectName;
  /** a time: unix epoch milliseconds (SQLite's INTEGER is 64-bit already) */
  readonly time: string;
  /** a 64-bit integer that is not a time, e.g. a reference to another table's seq */
  readonly bigint: string;
  /** a row number assigned on insert, as the table's primary key (SQLite: the rowid itself) */
  readonly seqPrimaryKey: string;
  /**
   * A column numbering rows in insert order, with its trailing comma, on PostgreSQL only: SQLite
   * tables have their implicit rowid for that (the SQLite store reads `rowid` where PostgreSQL's
   * reads this column).
   */
  insertOrderColumn(name: string, options?: { primaryKey?: boolean }): string;
  /** raw bytes */
  readonly bytes: string;
  /** a flag column; its literals are `false` and `true`, a test of it `isTrue(column)` */
  readonly boolean: string;
  readonly false: string;
  readonly true: string;
  isTrue(column: string): string;
  /** a floating point number */
  readonly double: string;
  /** after a table's closing parenthesis: a table keyed by its primary key alone (SQLite only) */
  readonly withoutRowid: string;
  /** the text for this dialect, where the two genuinely differ (say why beside each use) */
  pick<T>(texts: { readonly sqlite: T; readonly postgres: T }): T;
}

export const SQLITE: Dialect = {
  name: 'sqlite',
  time: 'INTEGER',
  bigint: 'INTEGER',
  seqPrimaryKey: 'INTEGER PRIMARY KEY',
  insertOrderColumn: () => '',
  bytes: 'BLOB',
  boolean: 'INTEGER',
  false: '0',
  true: '1',
  isTrue: (column) => `${column} = 1`,
  double: 'REAL',
  withoutRowid: ' WITHOUT ROWID',
  pick: (texts) => texts.sqlite,
};

export const POSTGRES: Dialect = {
  name: 'postgres',
  time: 'BIGINT',
  bigint: 'BIGINT',
  seqPrimaryKey: 'BIGSERIAL PRIMARY KEY',
  insertOrderColumn: (name, options) => `${name} BIGSERIAL${options?.primaryKey ? ' PRIMARY KEY' : ''},`,
  bytes: 'BYTEA',
  boolean: 'BOOLEAN',
  false: 'false',
  true: 'true',
  isTrue: (column) => column,
  double: 'DOUBLE PRECISION',
  withoutRowid: '',
  pick: (texts) => texts.postgres,
};
