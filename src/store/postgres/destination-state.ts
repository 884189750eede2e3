/**
 * What a delivery's destination has become, as SQL conditions over `deliveries d` (PostgreSQL):
 * the queue's result writes and the history's replays both decide by them.
 */

/** Its destination was deleted: it is not retried or replayed. */
export const GONE = `(d.destination_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM destinations x WHERE x.id = d.destination_id))`;

/** Its destination is disabled: it waits (parked, run_at NULL) until the destination is enabled again. */
export const DISABLED = `(d.destination_id IS NOT NULL AND EXISTS (
  SELECT 1 FROM destinations x WHERE x.id = d.destination_id AND NOT x.enabled))`;
