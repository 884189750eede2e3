/**
 * The HTTP thread's body (started by attempt-thread.ts): performs the attempts the main thread
 * posts — DNS, the address guard, TLS, the request and reading the answer — through its own
 * guarded agent, and posts each result back. Results that finish in the same turn of this
 * thread's loop go back in one message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type AttemptAgentSettings, createAttemptAgent } from './attempt-agent.js';
import { performAttempt } from './http-attempt.js';
import type { AttemptJob, AttemptReply, ToWorker } from './attempt-thread.js';

const port = parentPort;
if (port === null) throw new Error('attempt-worker.ts runs only as a worker thread');
const agent = createAttemptAgent(workerData as AttemptAgentSettings);

let outbox: AttemptReply[] = [];
function reply(r: AttemptReply): void {
  if (outbox.length === 0) setImmediate(flush);
  outbox.push(r);
}
function flush(): void {
  const batch = outbox;
  outbox = [];
  port!.postMessage(batch);
}

function run(job: AttemptJob): void {
  const { id, req } = job;
  // a body crosses threads as a Uint8Array; undici takes one as it is
  performAttempt(agent, { ...req, body: req.body === null ? null : Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength) }).then(
    (result) => reply({ id, result }),
    // performAttempt never throws; should it, the attempt is a network error, not a lost reply
    (err: unknown) => reply({ id, result: { kind: 'network_error', error: err instanceof Error ? err.message : String(err), latencyMs: 0 } }),
  );
}

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'attempts') for (const job of msg.jobs) run(job);
});
port.postMessage('ready');
