/**
 * How the PostgreSQL store's parts run a statement: the pool, the dispatcher's work pool or a
 * transaction's client, all behind one signature. Its own module so the parts (accounts, events,
 * lanes, limits, …) and postgres-store.ts, which builds them, do not import each other.
 */
import type { Row } from '../rows.js';

export type Querier = (text: string, params?: unknown[]) => Promise<Row[]>;

/** A transaction on one pooled connection: `fn`'s statements, committed once it resolves (rolled back if it throws). */
export type Transact = <T>(fn: (q: Querier) => Promise<T>) => Promise<T>;
