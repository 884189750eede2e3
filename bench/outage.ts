/**
 * `npm run bench:outage`: a target that is down for a while and comes back (issue 7, item 2).
 *
 * --n deliveries (default 1,000) are queued for one target that answers 503 for --down seconds
 * (default 60), then 200. Prints the attempts the target received during the outage — beside
 * what one retry schedule per delivery would have made in the same time (the policy used:
 * exponential from 1 s, no jitter) — and the seconds from recovery until every delivery was
 * delivered. The breaker settings are the service's defaults unless --breaker-failures /
 * --breaker-probe-ms say otherwise.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createTestPki } from '../test/support/ca.js';
import { startDnsServer } from '../test/support/dns-server.js';
import { startReceiver } from '../test/support/receiver.js';
import { type StoreKind, benchDatabase, runMain, sleep, startService } from './harness.js';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '1000' },
    down: { type: 'string', default: '60' },
    store: { type: 'string', default: 'sqlite' },
    'breaker-failures': { type: 'string' },
    'breaker-probe-ms': { type: 'string' },
  },
});
const N = Number(args.n);
const DOWN_S = Number(args.down);
const HOST = 'outage.example.test';

/** Attempts one delivery makes in `seconds` of failures with exponential backoff from 1 s (no jitter). */
function attemptsWithoutHolding(seconds: number, maxAttempts: number): number {
  let t = 0;
  let n = 0;
  while (n < maxAttempts && t <= seconds * 1000) {
    n++;
    t += Math.min(1000 * 2 ** (n - 1), 3_600_000);
  }
  return n;
}

runMain(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'harepost-outage-'));
  const pki = await createTestPki({ names: [HOST], dir: join(dir, 'pki') });
  const dns = await startDnsServer();
  dns.setA(HOST, ['127.0.0.1']);
  let down = true;
  const receiver = await startReceiver({ tls: { certPem: pki.certPem, keyPem: pki.keyPem } });
  receiver.respond(() => (down ? { status: 503 } : { status: 200 }));
  const db = benchDatabase(args.store as StoreKind, dir, 'hp_outage');
  const env: Record<string, string> = {};
  if (args['breaker-failures']) env.HAREPOST_BREAKER_FAILURES = args['breaker-failures'];
  if (args['breaker-probe-ms']) env.HAREPOST_BREAKER_PROBE_MS = args['breaker-probe-ms'];
  const service = await startService({ databaseUrl: db.url, dns, caCertPath: pki.caCertPath, connections: 32, env });
  await service.verifyDomain(HOST);

  const policy = { max_attempts: 25, backoff: 'exponential', base_delay_ms: 1000, jitter: 'none' };
  const ids: string[] = [];
  const t0 = Date.now();
  for (let i = 0; i < N; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, N - i) }, (_, j) =>
        service.call('POST', '/v1/send', { target: `https://${HOST}:${receiver.port}/o/${i + j}`, body: { i: i + j }, delivery: policy }),
      ),
    );
    for (const r of batch) ids.push(r.body.queue_id);
  }
  const remaining = DOWN_S * 1000 - (Date.now() - t0);
  if (remaining > 0) await sleep(remaining);
  const duringOutage = receiver.requests.length;
  down = false;
  const recovered = Date.now();
  const delivered = new Set<string>();
  while (delivered.size < N && Date.now() - recovered < 600_000) {
    for (const r of receiver.requests) if (r.headers['x-harepost-queue-id']) delivered.add(r.headers['x-harepost-queue-id']);
    // only 200s count: a request that arrived during the outage was answered 503
    delivered.clear();
    for (const r of receiver.requests) if (r.receivedAt >= recovered && r.headers['x-harepost-queue-id']) delivered.add(r.headers['x-harepost-queue-id']);
    if (delivered.size >= N) break;
    await sleep(100);
  }
  const recoverySeconds = (Date.now() - recovered) / 1000;
  const naive = N * attemptsWithoutHolding(DOWN_S, policy.max_attempts);
  console.log(`\nHarepost outage benchmark — ${args.store} store, ${cpus().length} CPUs, Node ${process.version}`);
  console.log(`${N} deliveries to one target answering 503 for ${DOWN_S} s, then 200 (policy: exponential from 1 s, no jitter, 25 attempts)`);
  console.log(`attempts the target received during the outage        ${duringOutage}`);
  console.log(`one retry schedule per delivery would have made about  ${naive}`);
  console.log(`seconds from recovery until all ${N} were delivered       ${recoverySeconds.toFixed(1)}${delivered.size < N ? ` (only ${delivered.size} by then)` : ''}`);
  await service.stop();
  await receiver.close();
  await dns.close();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});
