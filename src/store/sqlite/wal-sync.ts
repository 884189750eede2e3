/**
 * Makes committed WAL frames durable off the event loop.
 *
 * better-sqlite3 runs on the calling thread, so a commit with `synchronous=FULL` blocks the whole
 * process for its fsync. The hot commits (sends and events) run with `synchronous=NORMAL`
 * instead — in WAL mode that writes the frames and is safe against corruption, but not yet durable
 * against a power cut — and their callers are answered only after `sync()` has flushed the WAL file
 * with fdatasync on libuv's thread pool. That is the same guarantee FULL gives (the WAL synced
 * after the commit, before the 202), without stalling every other request meanwhile.
 *
 * Syncs are shared: a call made while one is running waits for the next, which covers every frame
 * committed before it started; N commits during one fdatasync cost one more, not N.
 *
 * Under a saturating load the wait for the thread pool's answer is a whole turn of a busy event
 * loop, longer than the fdatasync itself; so a big batch (a loop that is busy anyway) is flushed
 * on the calling thread instead (`syncNow`), and a small one (a loop with room) off it.
 */
import { closeSync, fdatasync, fdatasyncSync, openSync } from 'node:fs';
import { promisify } from 'node:util';

const syncData = promisify(fdatasync);

export type SyncFn = () => Promise<void>;

export interface FileDataSync {
  /** fdatasync on libuv's thread pool: the event loop goes on meanwhile. */
  sync: SyncFn;
  /** fdatasync on the calling thread (for a batch big enough that the wait costs less than a turn of the loop). */
  syncNow: () => void;
  close: () => void;
}

/** The fdatasync of one file, through a descriptor opened on first use and kept open. */
export function fileDataSync(path: string): FileDataSync {
  let fd: number | null = null;
  // On Linux an fsync flushes the file (inode), whichever descriptor wrote it: SQLite's own
  // connection wrote the frames, this read-only descriptor makes them durable.
  const descriptor = () => (fd ??= openSync(path, 'r'));
  /** After a failure the descriptor is opened again next time (a failed open is not remembered). */
  const forget = () => {
    const f = fd;
    fd = null;
    if (f !== null) {
      try {
        closeSync(f);
      } catch {
        // already unusable
      }
    }
  };
  return {
    sync: async () => {
      try {
        await syncData(descriptor());
      } catch (err) {
        forget();
        throw err;
      }
    },
    syncNow: () => {
      try {
        fdatasyncSync(descriptor());
      } catch (err) {
        forget();
        throw err;
      }
    },
    close: forget,
  };
}

/** Coalesces concurrent requests for a sync into as few runs of `syncOnce` as cover them all. */
export class SharedSync {
  /** The run in progress: it may have started before the caller's commit, so it does not count. */
  private running: Promise<void> | null = null;
  /** The run that starts when the current one ends: it covers everyone waiting for it. */
  private next: Promise<void> | null = null;

  constructor(private readonly syncOnce: SyncFn) {}

  /** Settles after a sync that started after this call (so it covers what was written before). */
  sync(): Promise<void> {
    if (this.running === null) return this.start();
    this.next ??= this.running.then(
      () => this.start(),
      () => this.start(),
    );
    return this.next;
  }

  private start(): Promise<void> {
    this.next = null;
    const run = this.syncOnce().finally(() => {
      if (this.running === run) this.running = null;
    });
    this.running = run;
    return run;
  }
}
