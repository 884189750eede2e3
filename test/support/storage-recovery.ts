/**
 * The second half of a storage-fault test: once the fault is cleared, sends are accepted and
 * /readyz is 200 again without a restart, one "storage healthy again" line is logged, no 5xx other
 * than 503 was answered, and every send that got a 202 is delivered.
 */
import assert from 'node:assert/strict';
import type { ApiResponse } from './stack.js';
import { waitFor } from './wait.js';

export async function assertRecovered(opts: {
  api: (method: string, path: string) => Promise<ApiResponse>;
  send: () => Promise<ApiResponse>;
  logs: string[];
  failures: string[];
  accepted: string[];
  arrived: () => Set<string | undefined>;
  recoveryTimeoutMs: number;
}): Promise<void> {
  await waitFor(
    async () => {
      await opts.send();
      return (await opts.api('GET', '/readyz')).status === 200;
    },
    { timeoutMs: opts.recoveryTimeoutMs, intervalMs: 200, message: 'sends accepted and /readyz 200 again' },
  );
  for (let i = 0; i < 5; i++) assert.equal((await opts.send()).status, 202);
  assert.equal(opts.logs.filter((l) => l.includes('storage healthy again')).length, 1);
  assert.deepEqual(opts.failures, [], 'no 5xx other than 503');
  await waitFor(() => opts.accepted.every((id) => opts.arrived().has(id)), {
    timeoutMs: 30_000,
    message: 'every send that got a 202 is delivered',
  });
}
