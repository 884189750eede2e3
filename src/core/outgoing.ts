/** The headers Harepost puts on every attempt, over the caller's own (already stripped) headers. */
export const USER_AGENT = 'Harepost/1.0';

export interface OutgoingDelivery {
  id: string;
  headers: Record<string, string>;
  idempotency_key: string | null;
  event_id?: string | null;
  event_type?: string | null;
}

export function attemptHeaders(d: OutgoingDelivery, attempt: number): Record<string, string> {
  const out: Record<string, string> = { ...d.headers };
  out['User-Agent'] = USER_AGENT;
  out['X-Harepost-Queue-Id'] = d.id;
  if (d.idempotency_key !== null) out['X-Harepost-Idempotency-Key'] = d.idempotency_key;
  out['X-Harepost-Attempt'] = String(attempt);
  if (d.event_type) out['X-Harepost-Event'] = d.event_type;
  if (d.event_id) out['X-Harepost-Event-Id'] = d.event_id;
  return out;
}
