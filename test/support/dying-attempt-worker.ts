/**
 * A stand-in for src/net/attempt-worker.ts that dies (test/unit/attempt-thread.test.ts, through
 * AttemptThread's `workerUrl`). Its workerData is the agent settings plus:
 * - `startsFile`: a file it appends its threadId to (one line) as it starts, before anything else,
 *   so the test can count the threads started;
 * - `dieAt`: 'attempts' — post 'ready', then exit with code 1 on the first attempts message;
 *   'start' — exit with code 3 before posting 'ready'.
 */
import { appendFileSync } from 'node:fs';
import { parentPort, threadId, workerData } from 'node:worker_threads';

export interface DyingWorkerData {
  startsFile: string;
  dieAt: 'attempts' | 'start';
}

const port = parentPort;
if (port === null) throw new Error('dying-attempt-worker.ts runs only as a worker thread');
const data = workerData as DyingWorkerData;
appendFileSync(data.startsFile, `${threadId}\n`);

if (data.dieAt === 'start') process.exit(3);
port.on('message', (msg: { type?: unknown }) => {
  if (msg.type === 'attempts') process.exit(1);
});
port.postMessage('ready');
