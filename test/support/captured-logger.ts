/** A trace-level pino logger whose every line lands in `lines` (to search a run's logs for secrets). */
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export function capturedLogger(lines: string[]): Logger {
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return pino({ level: 'trace' }, sink);
}
