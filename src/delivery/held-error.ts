/**
 * The `error` of a delivery dead-lettered because its target stayed unavailable past the hold
 * bound (HAREPOST_HOLD_MAX_MS): what the customer reads, so it names the target's origin (their
 * own) and since when it was unavailable — nothing of the operator's network.
 */
export function heldErrorText(origin: string, since: number, holdMaxMs: number): string {
  return (
    `The target ${origin} has been unavailable since ${new Date(since).toISOString()}: ` +
    `this delivery was held ${duration(holdMaxMs)} past its scheduled attempt and given up.`
  );
}

/** 3600000 → "1 h", 90000 → "90 s", 1500 → "1500 ms". */
export function duration(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}
