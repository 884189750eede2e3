/** A delivery as the API would hand it to the store: account acct_a, live, a JSON POST to a.example.test. */
import { DEFAULT_POLICY } from '../../src/core/policy.js';
import type { NewDelivery } from '../../src/store/store.js';

export function newDelivery(id: string, over: Partial<NewDelivery> = {}): NewDelivery {
  return {
    id,
    account_id: 'acct_a',
    mode: 'live',
    target: 'https://a.example.test/hook',
    origin: 'https://a.example.test',
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: Buffer.from('{"x":1}'),
    policy: DEFAULT_POLICY,
    idempotency_key: null,
    metadata: null,
    sign: false,
    created_at: 1_000_000,
    ...over,
  };
}
